//! `cargo run --release`: opens the Traplab GUI with minios loaded (samples/minios/minios.elf
//! if it is found beside the binary, else the copy embedded in it) and paused at its first
//! instruction (`traplab-gui [IMAGE] [--run] [--lesson]`).
fn main() -> anyhow::Result<()> {
    traplab_gui::run()
}
