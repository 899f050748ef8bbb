// Version parsing, constraints and classification live in the protocol package, so agents check a
// tracker's constraint where they report its other errors; the server uses the same code.
export * from '@flotilla/protocol/drift-versions';
