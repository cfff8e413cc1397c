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
 * stall for over a second under load (docs/architecture.md, "Transport and the cluster secret"),
 * and a timed-out hello costs a whole reconnect.
 */
export const PSK_HANDSHAKE_TIMEOUT_MS = 5_000

/**
 * Labels for HKDF. They version the wire protocol: a peer using a different version
 * derives different keys and is refused as if it held a different secret.
 */
export const PSK_HKDF_INFO_AUTH = 'clusterd/psk/2 hello-auth'
/** HKDF label for the per-direction stream keys. */
export const PSK_HKDF_INFO_STREAM = 'clusterd/psk/2 stream'
/** What each side MACs under its send key to confirm the connection keys (psk/2: the key confirmation). */
export const PSK_CONFIRM_LABEL = 'clusterd/psk/2 confirm'

/**
 * HKDF label of the datagram channel's per-sender keys. Distinct from the protector's labels,
 * so a datagram key never equals a stream or hello key derived from the same secret; the
 * "/1" is the datagram wire version (a peer on another version derives other keys).
 */
export const DGRAM_HKDF_INFO_SENDER = 'clusterd/dgram/1 sender-key'

/** First byte of every sealed datagram: the wire version it was sealed with. */
export const DGRAM_VERSION = 1

/** Bytes of the random per-process sender id at the front of every datagram. */
export const DGRAM_SENDER_ID_LENGTH = 16

/** Sealed header: version (1) + sender id (16) + counter (8) + timestamp in ms (8). */
export const DGRAM_HEADER_LENGTH = 1 + DGRAM_SENDER_ID_LENGTH + 8 + 8

/** Bytes of the Poly1305 tag after the ciphertext. */
export const DGRAM_TAG_LENGTH = 16

/** What sealing adds to a payload. */
export const DGRAM_OVERHEAD = DGRAM_HEADER_LENGTH + DGRAM_TAG_LENGTH

/** The largest UDP payload over IPv4: 65,535 minus the IPv4 (20) and UDP (8) headers. */
export const DGRAM_MAX_DATAGRAM = 65_507

/** The largest payload one sealed datagram can carry. */
export const DGRAM_MAX_PAYLOAD = DGRAM_MAX_DATAGRAM - DGRAM_OVERHEAD

/**
 * Counters a receiver remembers per sender. A sender's counter is shared by all its
 * destinations, so one receiver sees it with gaps; 1,024 tolerates the reordering of a
 * sender sending hundreds of datagrams a second while one is in flight.
 */
export const DGRAM_REPLAY_WINDOW = 1_024

/** Datagrams whose authenticated timestamp is further than this from the receiver's clock are stale. */
export const DGRAM_MAX_AGE_MS = 60_000

/**
 * Senders a receiver keeps replay state for. A sender's state is only dropped once all it
 * sent is stale, so the bound is on senders heard from within DGRAM_MAX_AGE_MS (~600 bytes
 * each, ~10 MB at the bound); a new sender beyond it is refused until older ones go stale.
 */
export const DGRAM_MAX_SENDERS = 16_384

/** At most one warning per drop reason this often; the rest are counted in the next one. */
export const DGRAM_WARN_INTERVAL_MS = 10_000
