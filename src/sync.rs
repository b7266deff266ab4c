//! One sync pass of the configured accounts into the store.
