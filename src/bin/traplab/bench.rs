//! `traplab bench`: placeholder until the bench table lands.
use clap::Args;

#[derive(Args)]
pub struct BenchArgs {}

pub fn main(_a: BenchArgs) -> anyhow::Result<u8> {
    anyhow::bail!("the bench table is not built yet")
}
