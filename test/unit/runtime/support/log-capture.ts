// A pino logger whose JSON lines land in an array, for asserting on logs.
import { createLogger, type Logger } from '../../../../src/observability/logger.ts';

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export function captureLogs(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger({ level, destination: { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) } });
  return { logger, lines };
}
