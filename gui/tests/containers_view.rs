//! The Containers view in the real app (kittest, machine thread included): the engine
//! sample boots, a container is started by typing `docker run` into the serial console,
//! and the view, read from the kernel's memory, shows it as process 1 of its namespace
//! with the host PID that dockerd reports (`docker inspect`) and `ps` lists: two
//! independent paths to the same number. Also its hostname, root layers and cgroup, the
//! daemon's API requests (its request log, read from the guest's file system) as the
//! `docker` client made them, and the same rows in Spanish.

mod common;

use common::{app_harness, boot_sample, type_line, wait_for};
use egui_kittest::kittest::Queryable;
use traplab_gui::i18n::Lang;
use traplab_gui::panels::virt::VirtView;
use traplab_gui::panels::PanelId;

/// The number after `"Pid":` in docker inspect's JSON.
fn inspect_pid(serial: &str) -> i32 {
    let at = serial
        .rfind("\"Pid\":")
        .expect("docker inspect printed a Pid")
        + 6;
    let digits: String = serial[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("a number")
}

#[test]
fn a_container_shows_pid_1_inside_and_its_host_pid() {
    let mut h = app_harness("samples/hello/hello.elf");
    wait_for(&mut h, 60, "hello loaded", |a| a.view.machine.is_some());
    boot_sample(&mut h, "minios with the engine", "minios> ");
    type_line(
        &mut h,
        "docker run -d --name web box nc -l -k -e 80",
        "minios> ",
    );
    type_line(&mut h, "docker inspect web", "minios> ");
    let pid = inspect_pid(&h.state().view.serial);
    type_line(&mut h, "ps", "minios> ");
    let serial = h.state().view.serial.clone();
    let ps = &serial[serial.rfind("PID  PPID").unwrap()..];
    assert!(
        ps.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.first() == Some(&pid.to_string().as_str()) && w.get(3) == Some(&"nc")
        }),
        "ps lists nc with the host PID {pid} docker inspect gave:\n{ps}"
    );

    // The Containers view, from the kernel's tables.
    h.state().send(traplab_gui::worker::Command::Pause);
    h.state_mut().panels.tab = PanelId::Virtualization;
    h.run_steps(2);
    h.get_by_label("Containers").click();
    h.run_steps(2);
    assert_eq!(h.state().panels.virt.view, VirtView::Containers);
    wait_for(&mut h, 30, "the process tables read", |a| {
        a.view
            .machine
            .as_ref()
            .and_then(|m| m.os_host.as_deref())
            .is_some_and(|t| t.as_ref().is_ok_and(|t| !t.containers().is_empty()))
    });
    h.run_steps(2);
    h.get_by_label("Container web");
    h.get_by_label_contains(&format!("PID 1 = host PID {pid}: nc ("));
    // Its namespaces and cgroup: hostname, root layers (the image below its own layer).
    h.get_by_label("web");
    h.get_by_label_contains("/images/box");
    h.get_by_label("No VM ran on this machine: the containers share the one kernel on the left.");
    // The host side lists dockerd (init started it at boot) and nc with its global PID.
    let m = h.state().view.machine.clone().unwrap();
    let t = m.os_host.as_deref().unwrap().as_ref().unwrap();
    let host = t.host_procs();
    assert!(
        host.iter().any(|p| p.name == "dockerd" && p.pid == 2),
        "{host:?}"
    );
    let c = &t.containers()[0];
    assert_eq!(c.name, "web");
    assert_eq!((c.procs[0].vpid, c.procs[0].pid), (1, pid));
    assert!(c.group.is_some_and(|g| g.pids_cur >= 1), "{:?}", c.group);

    // dockerd's requests: `docker run -d` is a create and a start (no wait, no logs), then
    // `docker inspect` by name; each answered once, in that order, over the local socket.
    let asked: Vec<String> = t
        .api_log
        .iter()
        .map(|r| format!("{} {} {} -> {}", r.via, r.method, r.target, r.status))
        .collect();
    let id = {
        let start = asked
            .iter()
            .find(|l| l.ends_with("/start -> 204"))
            .unwrap_or_else(|| panic!("a start request in {asked:?}"));
        start.split('/').nth(2).unwrap().to_string()
    };
    let tail: Vec<&str> = asked
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "unix POST /containers/create?name=web -> 201".to_string(),
            format!("unix POST /containers/{id}/start -> 204"),
            "unix GET /containers/web/json -> 200".to_string(),
        ],
        "{asked:?}"
    );
    h.get_by_label("dockerd's API requests (/var/log/dockerd.log)");
    h.get_by_label("GET /containers/web/json");

    h.state_mut().lang = Lang::Es;
    h.run_steps(2);
    h.get_by_label("Contenedor web");
    h.get_by_label("Peticiones a la API de dockerd (/var/log/dockerd.log)");
    h.get_by_label_contains(&format!("PID 1 = PID en el anfitrión {pid}: nc ("));
}
