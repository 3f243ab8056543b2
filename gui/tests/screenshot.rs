//! A screenshot of the real window: launches the app binary under Xvfb, grabs the screen
//! with ImageMagick's `import`, and checks the picture shows an app (many colours, most of
//! the screen not background). `UPDATE_SCREENSHOT=1` copies it to `gui/screenshot.png`.
//! Without xvfb-run/import the test explains why and passes, unless `CI` is set.

use std::path::PathBuf;
use std::process::Command;

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn real_window_under_xvfb() {
    if !have("xvfb-run") || !have("import") {
        let msg = "screenshot test skipped: needs xvfb-run and ImageMagick's import \
                   (apt-get install xvfb xauth imagemagick libgl1-mesa-dri)";
        assert!(std::env::var_os("CI").is_none(), "{msg}: CI must have them");
        eprintln!("{msg}");
        return;
    }
    let bin = env!("CARGO_BIN_EXE_traplab-window");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::env::temp_dir().join(format!("traplab-shot-{}.png", std::process::id()));
    let hello = root.join("samples/hello/hello.elf");
    let script = format!(
        "'{bin}' '{}' --run --lesson & P=$!; sleep 8; import -window root '{}'; kill $P; wait $P 2>/dev/null; true",
        hello.display(),
        out.display()
    );
    let st = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x800x24", "sh", "-c", &script])
        .current_dir(&root)
        .status()
        .expect("running xvfb-run");
    assert!(st.success(), "xvfb-run failed: {st}");
    let file = std::fs::File::open(&out).expect("import wrote the screenshot");
    let mut dec = png::Decoder::new(std::io::BufReader::new(file));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let px = info.color_type.samples();
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks(px)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    assert_eq!((info.width, info.height), (1280, 800));
    let mut colours = std::collections::HashMap::new();
    for p in &pixels {
        *colours.entry(*p).or_insert(0usize) += 1;
    }
    let (bg, bg_count) = colours
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(c, n)| (*c, *n))
        .unwrap();
    let foreground = pixels.len() - bg_count;
    eprintln!(
        "screenshot: {} colours, background {bg:?} on {:.1}% of the screen",
        colours.len(),
        100.0 * bg_count as f64 / pixels.len() as f64
    );
    assert!(
        colours.len() >= 32,
        "too few colours ({}): blank window?",
        colours.len()
    );
    assert!(
        foreground * 10 >= pixels.len(),
        "almost everything is background {bg:?}"
    );
    assert_ne!(bg, [0, 0, 0], "a black screen: the window did not show");
    if std::env::var_os("UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&out, root.join("gui/screenshot.png")).expect("copying the screenshot");
    }
    let _ = std::fs::remove_file(out);
}
