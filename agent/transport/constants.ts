/**
 * Defaults and wire constants for the cluster-secret transport layer, kept in one place so
 * the secret file helpers, the protector and their tests agree.
 */

/** Length in bytes of the cluster secret (a 256-bit pre-shared key). */
export const SECRET_LENGTH = 32

/** First line of a secret file: the swarm-key format tag shared with IPFS / @libp2p/pnet. */
export const SECRET_FILE_TAG = '/key/swarm/psk/1.0.0/'

/** Second line of a secret file: the only encoding we read and write. */
export const SECRET_FILE_CODEC = '/base16/'

/** A well-formed secret file is a few lines; anything larger is not a secret file. */
export const SECRET_FILE_MAX_BYTES = 1024

/** Mode of a secret file: readable and writable by its owner only. */
export const SECRET_FILE_MODE = 0o600

/** Mode of a parent directory that writeSecretFile creates. */
export const SECRET_DIR_MODE = 0o700

/** Bytes of fresh randomness each side sends when a connection opens. */
export const PSK_NONCE_LENGTH = 32

/** Bytes of the HMAC-SHA256 tag that proves the sender holds the same secret. */
export const PSK_TAG_LENGTH = 32

/**
 * How long the hello exchange may take. Longer than @libp2p/pnet's 1 s because agents can
 * stall for over a second under load (see notes/libp2p-gossip.md, "Things that bite" #5),
 * and a timed-out hello costs a whole reconnect.
 */
export const PSK_HANDSHAKE_TIMEOUT_MS = 5_000

/**
 * Labels for HKDF. They version the wire protocol: a peer using a different version
 * derives different keys and is refused as if it held a different secret.
 */
export const PSK_HKDF_INFO_AUTH = 'clusterd/psk/1 hello-auth'
/** HKDF label for the per-direction stream keys. */
export const PSK_HKDF_INFO_STREAM = 'clusterd/psk/1 stream'
