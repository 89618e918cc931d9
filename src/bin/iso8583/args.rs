//! Options shared by several commands.

use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use iso8583_client::spec::BUILTIN_SPECS;
use iso8583_client::Spec;

/// `--spec NAME|FILE`: a built-in spec name or a TOML spec file.
#[derive(Args, Debug, Clone)]
pub struct SpecArg {
    /// Message layout: a built-in spec (iso87-ascii, iso87-ascii-binary-bitmap, iso87-bcd) or a
    /// TOML spec file.
    #[arg(long, value_name = "NAME|FILE", default_value = "iso87-ascii")]
    pub spec: String,
}

impl SpecArg {
    /// Loads the spec; the error names the file, field and problem.
    pub fn load(&self) -> anyhow::Result<Arc<Spec>> {
        let name = &self.spec;
        if Spec::builtin(name).is_none() && !std::path::Path::new(name).exists() {
            bail!(
                "unknown spec {name:?}: neither a built-in ({}) nor an existing spec file",
                BUILTIN_SPECS.join(", ")
            );
        }
        Spec::load(name).with_context(|| format!("cannot load spec {name:?}"))
    }
}
