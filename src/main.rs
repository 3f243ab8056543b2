//! `cargo run --release`: opens the Traplab GUI with samples/minios/minios.elf loaded and
//! paused at its first instruction (`traplab-gui [IMAGE] [--run] [--lesson]`).
fn main() -> anyhow::Result<()> {
    traplab_gui::run()
}
