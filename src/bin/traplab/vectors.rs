//! `traplab vectors DIR`: placeholder until the vector runner lands.
use clap::Args;

#[derive(Args)]
pub struct VectorArgs {
    /// Directory with the test vector files.
    pub dir: std::path::PathBuf,
}

pub fn main(_a: VectorArgs) -> anyhow::Result<u8> {
    anyhow::bail!("the vector runner is not built yet")
}
