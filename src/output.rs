//! Machine-readable outputs.
