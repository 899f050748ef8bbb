// @peculiar/x509 needs the Reflect metadata API before it loads; the CA imports this module lazily,
// so only a server that issues mesh certificates loads either.
import 'reflect-metadata';

export * from '@peculiar/x509';
