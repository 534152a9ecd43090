import { describe, expect, it } from 'vitest';
import { labelSelectorToString, matchesLabels, parseLabelSelector } from '../../../src/runtime/label-selector.ts';

const labels = { app: 'unmute', tier: 'tts', 'unmute.sh/instance': 'fleet', gpus: '4' };

describe('label selectors', () => {
  it.each([
    ['', true],
    ['app=unmute', true],
    ['app==unmute', true],
    ['app!=unmute', false],
    ['missing!=x', true],
    ['tier in (stt, tts)', true],
    ['tier notin (stt,tts)', false],
    ['missing notin (a)', true],
    ['unmute.sh/instance', true],
    ['!unmute.sh/instance', false],
    ['!legacy', true],
    ['app=unmute,tier in (tts),!legacy', true],
    ['app=unmute,tier=stt', false],
    ['gpus>2', true],
    ['gpus<2', false],
  ])('%j matches the tts pod labels: %s', (selector, expected) => {
    expect(matchesLabels(parseLabelSelector(selector), labels)).toBe(expected);
  });

  it('rejects malformed selectors', () => {
    expect(() => parseLabelSelector('app=un mute')).toThrow(/invalid/);
    expect(() => parseLabelSelector('tier in (a b)')).toThrow(/invalid/);
  });

  it('renders a metav1.LabelSelector in the API string form', () => {
    const s = labelSelectorToString({
      matchLabels: { tier: 'tts', app: 'unmute' },
      matchExpressions: [
        { key: 'zone', operator: 'In', values: ['b', 'a'] },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    expect(s).toBe('app=unmute,tier=tts,zone in (a,b),!legacy');
    expect(matchesLabels(parseLabelSelector(s), { app: 'unmute', tier: 'tts', zone: 'a' })).toBe(true);
  });
});
