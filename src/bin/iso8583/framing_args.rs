//! `--framing 2b|4b|4a|2bcd`, `--header HEX`, `--length-includes-header`: the transport framing
//! options, shared by every command that talks to a host.

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use iso8583_client::transport::framing::{Framing, LengthPrefix};

use crate::hex;

/// The length prefix in front of each message.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrefixKind {
    /// 2 bytes binary big-endian (`00 4B`).
    #[default]
    #[value(name = "2b")]
    Binary2,
    /// 4 bytes binary big-endian (`00 00 00 4B`).
    #[value(name = "4b")]
    Binary4,
    /// 4 ASCII decimal digits (`30 30 37 35` = "0075").
    #[value(name = "4a")]
    Ascii4,
    /// 2 bytes packed BCD (`00 75`).
    #[value(name = "2bcd")]
    Bcd2,
}

impl PrefixKind {
    /// The name used on the command line and in recordings.
    pub fn name(self) -> &'static str {
        match self {
            PrefixKind::Binary2 => "2b",
            PrefixKind::Binary4 => "4b",
            PrefixKind::Ascii4 => "4a",
            PrefixKind::Bcd2 => "2bcd",
        }
    }
}

/// Framing options on the command line.
#[derive(Args, Debug, Clone, Default)]
pub struct FramingArgs {
    /// Length prefix of each frame: 2b (2 bytes binary, the default), 4b, 4a (4 ASCII digits), 2bcd.
    #[arg(long, value_enum, default_value = "2b")]
    pub framing: PrefixKind,
    /// Fixed header after the length prefix, in hex (e.g. a TPDU: 6000030000).
    #[arg(long, value_name = "HEX")]
    pub header: Option<String>,
    /// The length prefix counts the fixed header too.
    #[arg(long)]
    pub length_includes_header: bool,
}

impl FramingArgs {
    /// The transport framing these options describe.
    pub fn build(&self) -> anyhow::Result<Framing> {
        let header = match &self.header {
            Some(h) => hex::decode(h).map_err(|e| anyhow!("--header: {e}"))?,
            None => Vec::new(),
        };
        Ok(Framing::builder()
            .prefix(self.prefix())
            .header(&header)
            .length_counts_header(self.length_includes_header)
            .build())
    }

    /// The length prefix kind.
    pub fn prefix(&self) -> LengthPrefix {
        match self.framing {
            PrefixKind::Binary2 => LengthPrefix::Binary2,
            PrefixKind::Binary4 => LengthPrefix::Binary4,
            PrefixKind::Ascii4 => LengthPrefix::Ascii4,
            PrefixKind::Bcd2 => LengthPrefix::Bcd2,
        }
    }

    /// A short description for banners: `2b`, `2b + header 6000030000`.
    pub fn describe(&self) -> String {
        match &self.header {
            Some(h) => format!("{} + header {}", self.framing.name(), h.to_uppercase()),
            None => self.framing.name().to_owned(),
        }
    }
}
