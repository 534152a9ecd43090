import { describe, expect, it } from 'vitest';
import {
  conditionProblems,
  findCondition,
  formatConditionTime,
  isConditionTrue,
  isValidConditionReason,
  removeCondition,
  setCondition,
  type Condition,
} from '../../../src/runtime/conditions.ts';

const t0 = new Date('2025-03-01T10:00:00.750Z');
const t1 = new Date('2025-03-01T10:05:00Z');

function aReadyCondition(status: Condition['status'] = 'True', reason = 'AllReplicasReady') {
  return { type: 'Ready', status, reason, message: 'ok', observedGeneration: 3 };
}

describe('conditions', () => {
  it('adds a new condition with lastTransitionTime at second precision', () => {
    const list = setCondition([], aReadyCondition(), t0);
    expect(list).toEqual([
      { type: 'Ready', status: 'True', reason: 'AllReplicasReady', message: 'ok', observedGeneration: 3, lastTransitionTime: '2025-03-01T10:00:00Z' },
    ]);
  });

  it('keeps lastTransitionTime when status stays the same even if reason and message change', () => {
    const first = setCondition(undefined, aReadyCondition('False', 'Progressing'), t0);
    const second = setCondition(first, { ...aReadyCondition('False', 'PodsPending'), message: 'waiting' }, t1);
    expect(second[0]?.lastTransitionTime).toBe('2025-03-01T10:00:00Z');
    expect(second[0]?.reason).toBe('PodsPending');
    expect(second[0]?.message).toBe('waiting');
  });

  it('moves lastTransitionTime when status flips', () => {
    const first = setCondition(undefined, aReadyCondition('False', 'Progressing'), t0);
    const second = setCondition(first, aReadyCondition('True'), t1);
    expect(second[0]?.lastTransitionTime).toBe('2025-03-01T10:05:00Z');
  });

  it('returns an equal list when nothing changed, so a status write can be skipped', () => {
    const first = setCondition(undefined, aReadyCondition(), t0);
    expect(setCondition(first, aReadyCondition(), t1)).toEqual(first);
  });

  it('keeps other conditions and their order', () => {
    let list = setCondition(undefined, aReadyCondition(), t0);
    list = setCondition(list, { type: 'Degraded', status: 'False', reason: 'AsExpected' }, t0);
    list = setCondition(list, aReadyCondition('False', 'Scaling'), t1);
    expect(list.map((c) => c.type)).toEqual(['Ready', 'Degraded']);
    expect(findCondition(list, 'Degraded')?.message).toBe('');
    expect(isConditionTrue(list, 'Ready')).toBe(false);
    expect(removeCondition(list, 'Ready').map((c) => c.type)).toEqual(['Degraded']);
  });

  it('does not mutate the list it was given', () => {
    const first = setCondition(undefined, aReadyCondition('False', 'Progressing'), t0);
    const copy = structuredClone(first);
    setCondition(first, aReadyCondition('True'), t1);
    expect(first).toEqual(copy);
  });

  it.each([
    ['AllReplicasReady', true],
    ['GPU_Budget:Exceeded', true],
    ['a', true],
    ['', false],
    ['1Starts', false],
    ['has space', false],
    ['EndsWithComma,', false],
    ['dash-not-allowed', false],
  ])('accepts reason %j: %s', (reason, valid) => {
    expect(isValidConditionReason(reason)).toBe(valid);
  });

  it('rejects a condition the API server would refuse', () => {
    expect(() => setCondition([], { type: 'Ready', status: 'True', reason: 'not valid' }, t0)).toThrow(/reason/);
    expect(conditionProblems({ type: 'bad type!', status: 'Maybe' as never, reason: 'X', observedGeneration: -1 })).toHaveLength(3);
    expect(conditionProblems({ type: 'unmute.sh/Ready', status: 'True', reason: 'X' })).toEqual([]);
  });

  it('formats times as metav1.Time does', () => {
    expect(formatConditionTime(new Date('2025-01-02T03:04:05.999Z'))).toBe('2025-01-02T03:04:05Z');
  });
});
