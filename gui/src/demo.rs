//! `--demo SCRIPT` and `--shot FILE`: put the window in a known state with lesson actions
//! and save a picture of it, for the README's and the workbook's screenshots (taken by
//! gui/tests/screenshot_virt.rs under Xvfb). Owns the script syntax and the PNG writing;
//! the actions are played by the lesson player, so a demo can do nothing a lesson cannot.
//!
//! Script: actions separated by `;`: `sample=NAME` (a virtualization sample whose menu
//! name starts with NAME), `run=N` (instructions), `exit` / `guest` (run to the next
//! switch into the hypervisor / back into the guest), `step=N`, `view=timeline|ledger|
//! nested|stepper|arch|compare|containers`, `nested=ADDR`, `type=TEXT` (`\n` is Enter), `compare`,
//! `tab=serial|screen|events|statistics`.

use crate::lessons::Action;
use crate::panels::virt::VirtView;
use crate::panels::PanelId;

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn number(s: &str) -> Result<u64, String> {
    let s = s.replace('_', "");
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|_| format!("--demo: `{s}` is not a number"))
}

/// The actions of a script, or what is wrong with it (one line).
pub fn parse(script: &str) -> Result<Vec<Action>, String> {
    let mut v = Vec::new();
    for item in script.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (k, arg) = item.split_once('=').unwrap_or((item, ""));
        v.push(match k {
            "sample" => Action::Sample(leak(arg)),
            "run" => Action::RunFor(number(arg)?),
            "exit" => Action::ToSwitch(true),
            "guest" => Action::ToSwitch(false),
            "step" => Action::Step(number(arg)?.min(10_000) as u32),
            "nested" => Action::Nested(number(arg)?.min(u32::MAX as u64) as u32),
            "type" => Action::Type(leak(&arg.replace("\\n", "\n"))),
            "compare" => Action::Compare,
            "view" => Action::Virt(match arg {
                "timeline" => VirtView::Timeline,
                "ledger" => VirtView::Ledger,
                "nested" => VirtView::Nested,
                "stepper" => VirtView::Stepper,
                "arch" => VirtView::Arch,
                "compare" => VirtView::Compare,
                "containers" => VirtView::Containers,
                _ => return Err(format!("--demo: unknown view `{arg}`")),
            }),
            "tab" => Action::Tab(match arg {
                "serial" => PanelId::Serial,
                "screen" => PanelId::Screen,
                "events" => PanelId::Events,
                "statistics" => PanelId::Statistics,
                _ => return Err(format!("--demo: unknown tab `{arg}`")),
            }),
            _ => return Err(format!("--demo: unknown action `{k}`")),
        });
    }
    Ok(v)
}

/// Writes an RGBA picture as PNG.
pub fn save_png(path: &str, image: &egui::ColorImage) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
    let [w, h] = image.size;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w as u32, h as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut data = Vec::with_capacity(w * h * 3);
    for p in &image.pixels {
        let [r, g, b, _] = p.to_srgba_unmultiplied();
        data.extend([r, g, b]);
    }
    enc.write_header()
        .and_then(|mut wr| wr.write_image_data(&data))
        .map_err(|e| format!("{path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_and_bad_ones_say_why() {
        let v = parse("sample=hv1; run=30_000_000; exit; view=stepper; type=ps\\n").unwrap();
        assert_eq!(v.len(), 5);
        assert!(matches!(v[1], Action::RunFor(30_000_000)));
        assert!(matches!(v[4], Action::Type("ps\n")));
        assert!(parse("view=nope").unwrap_err().contains("unknown view"));
        assert!(parse("view=containers").is_ok());
        assert!(parse("run=lots").unwrap_err().contains("not a number"));
    }
}
