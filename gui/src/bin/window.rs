//! `traplab-window [IMAGE] [--run]`: the same desktop app as the workspace's `traplab-gui`
//! launcher, built inside this crate so its own tests (the Xvfb screenshot) can launch it.
fn main() -> anyhow::Result<()> {
    traplab_gui::run()
}
