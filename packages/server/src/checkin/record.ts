/** One accepted check-in, as stored. It holds no address and no identifier of the client. */
export interface CheckinRecord {
  /** Server clock, epoch milliseconds. */
  time: number;
  app: string;
  appVersion: string;
  countryIsoCode: string;
  country: string;
  city: string;
  /** Validated extra tags, keys as the client sent them. */
  tags: Record<string, string>;
  /** Validated extra fields, keys as the client sent them. */
  fields: Record<string, string | number | boolean>;
}
