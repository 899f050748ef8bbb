import { describe, expect, it } from 'vitest';
import {
  checkPasswordRules,
  constantTimeEqual,
  generatePassword,
  hashPassword,
  minPasswordLength,
  verifyPassword,
} from './password.ts';

describe('password hashing', () => {
  it('writes a self-describing scrypt string with a random salt', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    const parts = a.split('$');
    expect(parts.slice(0, 4)).toEqual(['scrypt', '32768', '8', '1']);
    expect(Buffer.from(parts[4] as string, 'base64url')).toHaveLength(16);
    expect(Buffer.from(parts[5] as string, 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct horse');
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', stored)).toBe(true);
    expect(await verifyPassword('correct horse batterz', stored)).toBe(false);
    expect(await verifyPassword('', stored)).toBe(false);
  });

  it('refuses strings that are not its own format, or that ask for absurd costs', async () => {
    const stored = await hashPassword('correct horse battery');
    expect(await verifyPassword('correct horse battery', stored.replace('scrypt$', 'bcrypt$'))).toBe(false);
    expect(await verifyPassword('correct horse battery', stored.replace('$32768$', '$1073741824$'))).toBe(false);
    expect(await verifyPassword('correct horse battery', 'scrypt$32768$8$1$abc')).toBe(false);
    // A truncated hash goes through the length-mismatch path of the constant-time compare.
    expect(await verifyPassword('correct horse battery', stored.slice(0, -4))).toBe(false);
  });

  it('compares in constant time without throwing on different lengths', () => {
    expect(constantTimeEqual(Buffer.from('abcd'), Buffer.from('abcd'))).toBe(true);
    expect(constantTimeEqual(Buffer.from('abcd'), Buffer.from('abce'))).toBe(false);
    expect(constantTimeEqual(Buffer.from('abcd'), Buffer.from('abc'))).toBe(false);
  });

  it('enforces the minimum length and generates strong passwords', () => {
    expect(checkPasswordRules('x'.repeat(minPasswordLength - 1))).toContain('at least 12');
    expect(checkPasswordRules('x'.repeat(minPasswordLength))).toBeNull();
    const generated = generatePassword();
    expect(generated.length).toBeGreaterThanOrEqual(24);
    expect(checkPasswordRules(generated)).toBeNull();
    expect(generatePassword()).not.toBe(generated);
  });
});
