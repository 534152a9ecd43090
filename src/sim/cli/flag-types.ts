// zod pieces shared by the sim-worker and loadtest flag schemas (flags arrive as strings).
import { z } from 'zod';

export const intFlag = (min: number, max = Number.MAX_SAFE_INTEGER): z.ZodType<number, string> =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export const numberFlag = (min: number): z.ZodType<number, string> =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().min(min));

/** `--flag`, `--flag=true`, `--flag=false` (parseArgs gives strings for type 'string'). */
export const boolFlag = (): z.ZodType<boolean, string> =>
  z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).transform((v) => v === 'true' || v === '1' || v === 'yes' || v === '');

export function helpRequested(argv: string[]): boolean {
  return argv.includes('--help') || argv.includes('-h');
}
