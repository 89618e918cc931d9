//! pool (todo)
