import type { UserInfo } from '@flotilla/protocol';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { LoginLimiter } from '../accounts/login-limiter.ts';
import { createAccountsService, TooManyAttempts } from '../accounts/service.ts';
import { anyUser } from '../accounts/store.ts';
import type { Tables } from '../db/tables.ts';
import { Conflict, Unauthorized } from '../errors.ts';
import { generateSetupCode, hashSetupCode, setupCodeMatches } from './setup-code.ts';

export interface SetupGateOptions {
  db: Kysely<Tables>;
  logger?: Logger;
  now?: () => number;
  /** How long a code works after it is printed. */
  ttlMs?: number;
  /** Wrong codes allowed from one client address per 15 minutes. */
  failuresPerAddress?: number;
  /** Wrong codes in all before the code stops working (a restart prints a new one). */
  maxFailures?: number;
}

export interface SetupInput {
  code: string;
  name: string;
  password: string;
}

export type SetupState = 'pending' | 'closed' | 'done';

const dayMs = 86_400_000;
const limiterKey = 'setup code';

/**
 * The one-time setup code that lets the first visitor create the first admin. It exists only in
 * this process, as a digest: a restart while the store has no user makes a new one.
 */
export class SetupGate {
  readonly #db: Kysely<Tables>;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #ttlMs: number;
  readonly #maxFailures: number;
  readonly #limiter: LoginLimiter;
  #digest: Buffer | null = null;
  #expiresAt = 0;
  #failures = 0;
  /** Set once a user exists: setup is over for good. */
  #done = false;
  /** Why the code stopped working, once it has; said in answers so the operator knows what to do. */
  #closedBecause: string | null = null;
  /** Setup attempts run one at a time, so two right answers cannot both create a first admin. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: SetupGateOptions) {
    this.#db = opts.db;
    this.#logger = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#ttlMs = opts.ttlMs ?? dayMs;
    this.#maxFailures = opts.maxFailures ?? 100;
    this.#limiter = new LoginLimiter({ maxFailures: opts.failuresPerAddress ?? 5, now: this.#now });
  }

  /** Makes a new code when the store has no user, and returns it to be printed once; otherwise null. */
  async open(): Promise<string | null> {
    if (await anyUser(this.#db)) {
      this.#done = true;
      return null;
    }
    const code = generateSetupCode();
    this.#digest = hashSetupCode(code);
    this.#expiresAt = this.#now() + this.#ttlMs;
    this.#failures = 0;
    this.#closedBecause = null;
    return code;
  }

  /**
   * The only thing the public may learn: `pending` while the code works, `closed` while no user exists
   * but no code works (expired, voided or never made), `done` once a user exists.
   */
  async state(): Promise<SetupState> {
    const closed = await this.#whyClosed();
    if (closed === null) return 'pending';
    return this.#done ? 'done' : 'closed';
  }

  /** Checks the code and creates the first admin; wrong codes are counted per address and in all. */
  complete(input: SetupInput, address: string): Promise<UserInfo> {
    const run = this.#queue.then(() => this.#complete(input, address));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #complete(input: SetupInput, address: string): Promise<UserInfo> {
    const wait = this.#limiter.retryAfter(limiterKey, address);
    if (wait > 0) throw new TooManyAttempts(`too many wrong setup codes from this address; retry in ${wait} s`, wait);
    const closed = await this.#whyClosed();
    if (closed) throw new Conflict(closed);
    if (!setupCodeMatches(input.code, this.#digest as Buffer)) {
      this.#limiter.fail(limiterKey, address);
      this.#failures++;
      this.#logger?.warn({ failures: this.#failures }, 'wrong setup code');
      if (this.#failures >= this.#maxFailures) {
        this.#close(`${this.#failures} wrong setup codes were tried, so the code no longer works`);
      }
      throw new Unauthorized('wrong setup code: use the one the server printed at its last start');
    }
    const accounts = createAccountsService({ db: this.#db, logger: this.#logger, now: this.#now });
    const user = await accounts.createFirstAdmin({ name: input.name, password: input.password });
    this.#done = true;
    this.#digest = null;
    this.#logger?.info({ user: user.name }, 'created the first admin with the setup code');
    return user;
  }

  /** Null while the code works; otherwise what happened and what to do. */
  async #whyClosed(): Promise<string | null> {
    // Users are never deleted, so once one exists setup is over for good and the store need not be asked again.
    if (this.#done || (await anyUser(this.#db))) {
      this.#done = true;
      this.#digest = null;
      return 'setup is done: a user exists, so sign in instead';
    }
    if (this.#digest && this.#now() >= this.#expiresAt) this.#close('the setup code expired');
    if (this.#digest) return null;
    return `${this.#closedBecause ?? 'no setup code was made'}. Restart the server for a new code, or on the server host create an admin with \`flotilla user add <name> --role admin --data-dir <data dir>\``;
  }

  #close(reason: string): void {
    if (!this.#digest) return;
    this.#digest = null;
    this.#closedBecause = reason;
    this.#logger?.warn(`${reason}; restart the server for a new one`);
  }
}
