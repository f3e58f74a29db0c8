//! The Redis revocation store against a real redis-server (work in progress).
