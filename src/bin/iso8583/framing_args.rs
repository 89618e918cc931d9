//! `--framing 2b|4b|4a|2bcd`, `--header HEX`, `--length-includes-header`: the transport framing
//! options, shared by every command that talks to a host (through [`crate::args::WireArgs`]).

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use iso8583_client::recording::Recording;
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

    /// The transport's length prefix.
    pub fn prefix(self) -> LengthPrefix {
        match self {
            PrefixKind::Binary2 => LengthPrefix::Binary2,
            PrefixKind::Binary4 => LengthPrefix::Binary4,
            PrefixKind::Ascii4 => LengthPrefix::Ascii4,
            PrefixKind::Bcd2 => LengthPrefix::Bcd2,
        }
    }
}

/// Framing options on the command line. Each option left out keeps the default (`2b`, no header,
/// length without the header) or, for `replay`, what the recording's header says.
#[derive(Args, Debug, Clone, Default)]
pub struct FramingArgs {
    /// Length prefix of each frame: 2b (2 bytes binary, the default), 4b, 4a (4 ASCII digits), 2bcd.
    #[arg(long, value_enum, value_name = "2b|4b|4a|2bcd")]
    pub framing: Option<PrefixKind>,
    /// Fixed header after the length prefix, in hex (e.g. a TPDU: 6000030000).
    #[arg(long, value_name = "HEX")]
    pub header: Option<String>,
    /// The length prefix counts the fixed header too.
    #[arg(long)]
    pub length_includes_header: bool,
}

/// A framing fully decided: prefix, fixed header, and what the prefix counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WireFraming {
    /// The length prefix.
    pub prefix: PrefixKind,
    /// The fixed header after the prefix (a TPDU), possibly empty.
    pub header: Vec<u8>,
    /// The length prefix counts the fixed header too.
    pub length_includes_header: bool,
}

impl WireFraming {
    /// The framing a recording's header names.
    pub fn of_recording(rec: &Recording) -> WireFraming {
        WireFraming {
            prefix: PrefixKind::from_str(&rec.framing, false).unwrap_or_default(),
            header: rec.header.clone(),
            length_includes_header: rec.length_includes_header,
        }
    }

    /// The transport framing (a fresh codec each call: a `Framing` keeps decoding state).
    pub fn build(&self) -> Framing {
        Framing::builder()
            .prefix(self.prefix.prefix())
            .header(&self.header)
            .length_counts_header(self.length_includes_header)
            .build()
    }

    /// A short description for banners: `2b`, `4a + header 6000030000 (counted in the length)`.
    pub fn describe(&self) -> String {
        let mut s = self.prefix.name().to_owned();
        if !self.header.is_empty() {
            s.push_str(" + header ");
            s.push_str(&hex::encode(&self.header));
        }
        if self.length_includes_header {
            s.push_str(" (counted in the length)");
        }
        s
    }
}

impl FramingArgs {
    /// The framing these options describe, over the defaults.
    pub fn resolve(&self) -> anyhow::Result<WireFraming> {
        self.resolve_over(WireFraming::default())
    }

    /// The framing these options describe; options left out keep `base`'s choice.
    pub fn resolve_over(&self, base: WireFraming) -> anyhow::Result<WireFraming> {
        let header = match &self.header {
            Some(h) => hex::decode(h).map_err(|e| anyhow!("--header: {e}"))?,
            None => base.header,
        };
        Ok(WireFraming {
            prefix: self.framing.unwrap_or(base.prefix),
            header,
            length_includes_header: self.length_includes_header || base.length_includes_header,
        })
    }
}
