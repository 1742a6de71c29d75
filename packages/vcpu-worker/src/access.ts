// The four kinds of guest access a vCPU forwards to the core's buses (the numbers are the native
// exit hand-off's, native/src/exit-hub.h ExitAccessKind).

/** What a forwarded access is. */
export const AccessKind = { PioRead: 0, PioWrite: 1, MmioRead: 2, MmioWrite: 3 } as const;
export type AccessKind = (typeof AccessKind)[keyof typeof AccessKind];

/** Handles one forwarded access on the core; `data` is the access's bytes (fill it for reads). */
export type AccessHandler = (kind: AccessKind, addr: number, data: Uint8Array) => void;
