pub mod spec;
pub mod transport;
