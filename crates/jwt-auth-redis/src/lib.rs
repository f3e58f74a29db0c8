//! A Redis [`RevocationStore`](jwt_auth_core::RevocationStore) for jwt-auth (work in progress).
#![forbid(unsafe_code)]
