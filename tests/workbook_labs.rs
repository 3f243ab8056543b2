//! The workbook's labs: runs them, checks their format, and checks that every chapter of the
//! course notes has a lab with a virtualization feature of its topic.
//!
//! How a lab is written (see `workbook/README.md`): a chapter shows only the commands, in
//! ```` ```console,ignore ```` blocks (trycmd skips them), each after a prose step that asks the
//! student to predict (`**Predice.**`) or to change something and measure
//! (`**Cambia y mide.**`). The expected outputs, which would give the prediction away, live in
//! the answers chapter, `respuestas.md`, as ```` ```console ```` blocks, and every command a
//! chapter shows must appear there. Every ```` ```console ```` block of `workbook/src/*.md` (the
//! answers and the presentation's example) is a trycmd case: each `$ traplab ...` line is
//! executed with the repository root as working directory (no `X.in` folder exists next to the
//! chapters), and its output (stdout and stderr merged, as trycmd does for Markdown) and exit
//! status (`? N`, success when absent) must match the book; `[..]` stands for the variable part
//! of a line (wall time, MIPS) and `...` for omitted lines. So a change in Traplab that breaks a
//! lab fails this test.
//!
//! The blocks of one file run in order, so a lab may save a snapshot and load it in a later
//! command of the same file; files may run in parallel, so each one uses its own snapshot
//! names, always under `target/` (never in the source tree).
//!
//! To re-record after an intended change of the CLI's output: `TRYCMD=overwrite cargo test
//! --test workbook_labs`, then restore the wildcards and review the diff of the Spanish text.
//!
//! Std only (besides trycmd): this test must run anywhere `cargo test` runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

#[test]
fn workbook_labs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The snapshot labs write into target/, which may not exist when CARGO_TARGET_DIR points
    // elsewhere.
    std::fs::create_dir_all(root.join("target")).expect("cannot create target/");
    trycmd::TestCases::new()
        .register_bin("traplab", Path::new(env!("CARGO_BIN_EXE_traplab")))
        .case("workbook/src/*.md");
}

/// Chapters whose lab must have at least one prediction block.
const LAB_FILES: &[&str] = &[
    "01-que-es.md",
    "02-como-funciona.md",
    "03-beneficios.md",
    "04-gestion.md",
    "06-maquinas-virtuales.md",
    "07-hipervisores.md",
    "08-tipos.md",
    "09-entornos.md",
    "10-contenedores.md",
    "11-docker.md",
    "12-traplab.md",
    "13-trap-and-emulate.md",
    "14-paginacion-mv.md",
];

/// The chapter that holds the expected output of every lab.
const ANSWERS: &str = "respuestas.md";

/// The only files with executed ```` ```console ```` blocks: the answers and the
/// presentation, whose example explains the conventions and asks for no prediction.
const CONSOLE_FILES: &[&str] = &["presentacion.md", ANSWERS];

/// The prose step before each prediction block starts with one of these.
const PREDICT: &str = "**Predice.**";
const SWEEP: &str = "**Cambia y mide.**";

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("workbook/src")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The `.md` files directly in `src/` (trycmd's glob `workbook/src/*.md`), sorted.
fn markdown_files() -> Vec<String> {
    let mut out: Vec<String> = fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "md"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// A fenced code block: its info string, its indentation, its first and last line numbers
/// (1-based, the fences) and its lines.
struct Block {
    info: String,
    indent: usize,
    line: usize,
    end: usize,
    lines: Vec<String>,
}

fn fenced_blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let trimmed = line.trim_start();
        if !trimmed.starts_with("```") {
            continue;
        }
        let ticks = trimmed.chars().take_while(|&c| c == '`').count();
        let fence = "`".repeat(ticks);
        let mut body = Vec::new();
        let mut end = n + 1;
        for (m, l) in lines.by_ref() {
            end = m + 1;
            let t = l.trim_start();
            if t.starts_with(&fence) && t.trim_start_matches('`').trim().is_empty() {
                break;
            }
            body.push(l.to_owned());
        }
        out.push(Block {
            info: trimmed[ticks..].trim().to_owned(),
            indent: line.len() - trimmed.len(),
            line: n + 1,
            end,
            lines: body,
        });
    }
    out
}

/// The `$ ` command lines of a block, without the prompt.
fn commands(block: &Block) -> impl Iterator<Item = &str> {
    block.lines.iter().filter_map(|l| l.strip_prefix("$ "))
}

/// Checks one `$ traplab ...` line; returns the snapshot files it saves and loads.
fn check_lab_command(at: &str, cmd: &str) -> (Vec<String>, Vec<String>) {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(
        args.first(),
        Some(&"traplab"),
        "{at}: a lab runs something other than traplab: {cmd}"
    );
    // trycmd runs the program directly, without a shell.
    for bad in [">", "<", "|", "&", ";", "$", "`", "*", "~"] {
        assert!(
            !cmd.contains(bad),
            "{at}: lab command uses shell syntax {bad:?} (trycmd runs no shell): {cmd}"
        );
    }
    let (mut saves, mut loads) = (Vec::new(), Vec::new());
    for (i, word) in args.iter().enumerate() {
        if word.starts_with("samples/") || word.starts_with("workbook/") {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(word);
            assert!(
                path.is_file(),
                "{at}: lab command uses missing file {word}: {cmd}"
            );
        }
        let next = args.get(i + 1).map(|w| w.to_string());
        match *word {
            "--save-snapshot" => saves.push(next.expect("--save-snapshot needs a file")),
            "--load-snapshot" => loads.push(next.expect("--load-snapshot needs a file")),
            _ => {}
        }
    }
    for snap in saves.iter().chain(&loads) {
        assert!(
            snap.starts_with("target/") && !snap.contains(".."),
            "{at}: lab snapshots must live under target/, never in the source tree: {cmd}"
        );
    }
    if !saves.is_empty() {
        assert!(
            args.contains(&"--force"),
            "{at}: a lab that saves a snapshot needs --force to be repeatable: {cmd}"
        );
    }
    (saves, loads)
}

/// Checks an executed ```` ```console ```` block: trycmd's format and the snapshot order.
fn check_console_block(
    at: &str,
    file: &str,
    block: &Block,
    saved_here: &mut BTreeSet<String>,
    saved_by: &mut BTreeMap<String, String>,
) {
    assert_eq!(
        block.indent, 0,
        "{at}: an indented console block is not run by trycmd"
    );
    assert_eq!(block.info, "console", "{at}: use a plain ```console fence");
    assert!(
        CONSOLE_FILES.contains(&file),
        "{at}: a chapter shows only the commands of its lab (```console,ignore); the output \
         goes to {ANSWERS}, after the student's prediction"
    );
    assert!(
        block.lines.first().is_some_and(|l| l.starts_with("$ ")),
        "{at}: a console block must start with a `$ ` command line"
    );
    // trycmd drops the last newline of each expected output, so an output that ends with a
    // newline needs an empty line after it (or a final `...`).
    for (i, line) in block.lines.iter().enumerate().skip(1) {
        if line.starts_with("$ ") {
            assert!(
                ["", "..."].contains(&block.lines[i - 1].as_str()),
                "{at}: put an empty line before the command {line:?}"
            );
        }
    }
    assert!(
        block
            .lines
            .last()
            .is_some_and(|l| l.is_empty() || l == "..."),
        "{at}: end the console block with an empty line"
    );
    let mut after_cmd = false;
    for line in &block.lines {
        if let Some(cmd) = line.strip_prefix("$ ") {
            let (saves, loads) = check_lab_command(at, cmd);
            for snap in loads {
                assert!(
                    saved_here.contains(&snap),
                    "{at}: {snap} is loaded before this file saves it"
                );
            }
            for snap in saves {
                if let Some(other) = saved_by.insert(snap.clone(), file.to_owned()) {
                    assert_eq!(
                        other, file,
                        "{at}: {snap} is also saved by {other} (files run in parallel)"
                    );
                }
                saved_here.insert(snap);
            }
            after_cmd = true;
            continue;
        }
        if let Some(status) = line.strip_prefix("? ") {
            assert!(
                after_cmd && status.parse::<i32>().is_ok(),
                "{at}: `? N` must follow its command line directly: {line}"
            );
        }
        assert!(
            !line.starts_with("> "),
            "{at}: `> ` continues a command in trycmd; no lab needs it: {line}"
        );
        after_cmd = false;
    }
}

/// The commands of every prediction block (```` ```console,ignore ````), per chapter, in order.
fn prediction_commands() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for file in markdown_files() {
        let text = read(&src().join(&file));
        let cmds: Vec<String> = fenced_blocks(&text)
            .iter()
            .filter(|b| b.info == "console,ignore")
            .flat_map(|b| commands(b).map(str::to_owned).collect::<Vec<_>>())
            .collect();
        out.insert(file, cmds);
    }
    out
}

/// Every command executed by the answers chapter.
fn answer_commands() -> BTreeSet<String> {
    let text = read(&src().join(ANSWERS));
    fenced_blocks(&text)
        .iter()
        .filter(|b| b.info == "console")
        .flat_map(|b| commands(b).map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

#[test]
fn lab_blocks_follow_the_rules() {
    let answers = answer_commands();
    let mut saved_by: BTreeMap<String, String> = BTreeMap::new();
    let (mut predictions, mut sweeps) = (0, 0);
    for file in markdown_files() {
        let path = src().join(&file);
        for ext in ["in", "out"] {
            // trycmd would use X.in as working directory (or X.out as sandbox) for X.md.
            assert!(
                !path.with_extension(ext).exists(),
                "{file}: {} must not exist (the labs run in the repository root)",
                path.with_extension(ext).display()
            );
        }
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        let mut labs = 0;
        let mut saved_here = BTreeSet::new();
        let mut prose_from = 0;
        for block in fenced_blocks(&text) {
            let at = format!("{file}:{}", block.line);
            // The prose between the previous block and this one.
            let prose = lines[prose_from..block.line - 1].join("\n");
            prose_from = block.end;
            // trycmd reads a fence without info string as a trycmd block: always name the
            // language.
            assert!(
                !block.info.is_empty(),
                "{at}: code block without a language (trycmd would run it)"
            );
            let lang = block.info.split(',').next().unwrap_or("");
            if block.info == "console,ignore" {
                assert!(
                    !CONSOLE_FILES.contains(&file.as_str()),
                    "{at}: {file} shows executed labs, not prediction blocks"
                );
                assert_eq!(block.indent, 0, "{at}: do not indent a prediction block");
                assert!(
                    block
                        .lines
                        .iter()
                        .all(|l| l.is_empty() || l.starts_with("$ traplab ")),
                    "{at}: a prediction block shows only `$ traplab ...` commands, no output: \
                     {:?}",
                    block.lines
                );
                for cmd in commands(&block) {
                    check_lab_command(&at, cmd);
                    assert!(
                        answers.contains(cmd),
                        "{at}: `{cmd}` is not executed in {ANSWERS}; put its expected output \
                         there in a ```console block"
                    );
                }
                let sweep = prose.contains(SWEEP);
                assert!(
                    sweep || prose.contains(PREDICT),
                    "{at}: ask for a prediction before the lab ({PREDICT} or {SWEEP})"
                );
                predictions += 1;
                sweeps += usize::from(sweep);
                labs += 1;
                continue;
            }
            if lang == "console" || lang == "trycmd" {
                check_console_block(&at, &file, &block, &mut saved_here, &mut saved_by);
                labs += 1;
                continue;
            }
            let runs_traplab = block.lines.iter().any(|l| {
                let l = l.trim_start().trim_start_matches("$ ");
                l.starts_with("traplab ")
            });
            let runs_foreign = block.lines.iter().any(|l| {
                let l = l.trim_start();
                ["docker ", "virsh ", "Get-VM", "curl "]
                    .iter()
                    .any(|p| l.starts_with(p))
            });
            let unchecked = block
                .lines
                .iter()
                .any(|l| l.contains("no forma parte de los laboratorios comprobados"));
            assert!(
                !runs_traplab || unchecked,
                "{at}: a Traplab lab must be a ```console block: {:?}",
                block.lines
            );
            assert!(
                !runs_foreign || unchecked,
                "{at}: a block with third-party commands is not marked as unchecked: {:?}",
                block.lines
            );
        }
        assert!(
            !LAB_FILES.contains(&file.as_str()) || labs > 0,
            "{file}: its lab has no prediction block"
        );
    }
    // At least a third of the labs ask the student to change something and measure.
    assert!(
        sweeps * 3 >= predictions,
        "only {sweeps} of {predictions} labs are {SWEEP} labs; at least a third expected"
    );
}

/// How a chapter of the course notes is covered by a lab that runs Traplab with a
/// virtualization feature of the chapter's topic: a command shown in the chapter's prediction
/// blocks (and executed in the answers) passes all of `uses` as arguments; `feature` says what
/// it exercises. (Every chapter has one since hv1, hv2 and the engine landed; a chapter whose
/// feature is missing cannot be listed here.)
struct Coverage {
    uses: &'static [&'static str],
    /// Lines the lab's `--input` file must contain (what the student types into the guest
    /// is the feature: `isolate`, `docker`, `curl`...); empty when the arguments say it all.
    input_has: &'static [&'static str],
    feature: &'static str,
}

/// Every chapter of the notes (the "Virtualización" part of `SUMMARY.md`), with its
/// virtualization lab.
const VIRTUALIZATION_LABS: &[(&str, Coverage)] = &[
    (
        "01-que-es.md",
        Coverage {
            uses: &["--mem"],
            input_has: &[],
            feature: "the machine's memory is what its creator gives it",
        },
    ),
    (
        "02-como-funciona.md",
        Coverage {
            uses: &["--trace-io"],
            input_has: &[],
            feature: "device emulation: every port access the monitor would trap",
        },
    ),
    (
        "03-beneficios.md",
        Coverage {
            uses: &["samples/tevmm/tevmm.elf", "--stats"],
            input_has: &[],
            feature: "the cost of a VM: minios natively and under tevmm, CPU-bound and I/O-bound",
        },
    ),
    (
        "04-gestion.md",
        Coverage {
            uses: &["--load-snapshot"],
            input_has: &[],
            feature: "provisioning copies from a template snapshot",
        },
    ),
    (
        "05-soluciones.md",
        Coverage {
            uses: &["samples/hv1/hv1.elf", "--module"],
            input_has: &[],
            feature: "a type 1 hypervisor (hv1, two VMs) beside a type 2 one (hv2: minios, its \
                      driver and vmm): the exits of a console write counted on each path",
        },
    ),
    (
        "06-maquinas-virtuales.md",
        Coverage {
            uses: &["--save-snapshot", "--snapshot-at"],
            input_has: &[],
            feature: "a snapshot of the whole machine taken at an exact instruction",
        },
    ),
    (
        "07-hipervisores.md",
        Coverage {
            uses: &["samples/tevmm/tevmm.elf", "--module"],
            input_has: &[],
            feature: "a monitor that runs on the machine and gives minios its memory (tevmm); \
                      type 1 against type 2 (hv1, hv2) is measured in 05-soluciones.md",
        },
    ),
    (
        "08-tipos.md",
        Coverage {
            uses: &["samples/tevmm/tevmm.elf", "--stats"],
            input_has: &[],
            feature: "CPU virtualization by trap-and-emulate: the guest's #GP traps counted",
        },
    ),
    (
        "09-entornos.md",
        Coverage {
            uses: &["--load-snapshot", "--mem"],
            input_has: &[],
            feature: "vertical scaling: a running machine's memory cannot change without a reboot",
        },
    ),
    (
        "10-contenedores.md",
        Coverage {
            uses: &["workbook/labs/minios-contenedor.input"],
            input_has: &["isolate --pid", "hog"],
            feature: "a minios container: PID, UTS and root namespaces and a memory limit hit; \
                      network namespaces on bridges and `traplab compare` have labs too",
        },
    ),
    (
        "11-docker.md",
        Coverage {
            uses: &["workbook/labs/docker-motor.input"],
            input_has: &["docker run", "docker ps -a", "curl"],
            feature: "the engine on minios: dockerd's REST API reached by docker and by curl, a \
                      container that outlives its process; networks and a memory limit too",
        },
    ),
];

/// The chapters listed in `SUMMARY.md` under the part titled `part`.
fn summary_part(part: &str) -> Vec<String> {
    let text = read(&src().join("SUMMARY.md"));
    let mut current = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("# ") {
            current = title.trim().to_owned();
        } else if current == part {
            if let Some((_, rest)) = line.split_once("](") {
                out.push(rest.trim_end().trim_end_matches(')').to_owned());
            }
        }
    }
    out
}

#[test]
fn every_chapter_of_the_notes_has_a_virtualization_lab() {
    let notes = summary_part("Virtualización");
    assert!(
        notes.len() >= 11,
        "the notes' part of SUMMARY.md: {notes:?}"
    );
    let listed: Vec<&str> = VIRTUALIZATION_LABS.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        listed, notes,
        "VIRTUALIZATION_LABS must name every chapter of the notes, in order, and no other"
    );
    let shown = prediction_commands();
    let answers = answer_commands();
    for (chapter, coverage) in VIRTUALIZATION_LABS {
        let Coverage {
            uses,
            input_has,
            feature,
        } = coverage;
        let lab = shown[*chapter].iter().find(|cmd| {
            let args: Vec<&str> = cmd.split_whitespace().collect();
            uses.iter().all(|u| args.contains(u))
        });
        let Some(lab) = lab else {
            panic!("{chapter}: no lab uses {uses:?} ({feature}); write one");
        };
        assert!(
            answers.contains(lab),
            "{chapter}: `{lab}` is not executed in {ANSWERS}"
        );
        if input_has.is_empty() {
            continue;
        }
        let args: Vec<&str> = lab.split_whitespace().collect();
        let input = args
            .windows(2)
            .find(|w| w[0] == "--input")
            .map(|w| w[1])
            .unwrap_or_else(|| panic!("{chapter}: `{lab}` has no --input file"));
        let typed = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(input));
        for want in *input_has {
            assert!(
                typed.lines().any(|l| l.contains(want)),
                "{chapter}: {input} never types `{want}` ({feature})"
            );
        }
    }
}
