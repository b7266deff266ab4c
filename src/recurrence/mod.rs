//! Recurrence expansion: stored series → occurrences in a window, shared by every provider.
