//! Authorization and the token lifecycle through both adapters (work in progress).
