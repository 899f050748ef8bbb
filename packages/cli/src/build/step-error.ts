/** A step of the build that failed: which one, why, and the end of its output. */
export class BuildStepError extends Error {
  override name = 'BuildStepError';
  readonly step: string;
  readonly tail: string;
  constructor(step: string, reason: string, tail = '') {
    super(`${step}: ${reason}${tail ? `\n--- last lines of output ---\n${tail}` : ''}`);
    this.step = step;
    this.tail = tail;
  }
}
