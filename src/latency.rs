//! The latency probe (being written).
