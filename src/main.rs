//! `cargo run --release`: opens the Traplab GUI with the default guest.
fn main() -> anyhow::Result<()> {
    traplab_gui::run()
}
