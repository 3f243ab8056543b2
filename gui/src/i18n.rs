//! Every label of the GUI in English and Spanish: one table, looked up by key.
//! The language comes from LC_ALL / LC_MESSAGES / LANG at start and can be switched at
//! runtime. Owns strings only; panels call `tr(lang, "key")`.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    Es,
}

impl Lang {
    /// The language of the user's locale (Spanish for `es*`, else English).
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if v.is_empty() {
                    continue;
                }
                return if v.to_ascii_lowercase().starts_with("es") {
                    Lang::Es
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }
}

/// (key, English, Spanish).
const TABLE: &[(&str, &str, &str)] = &[
    // Toolbar and menus
    ("file", "File", "Archivo"),
    ("load", "Load", "Cargar"),
    ("samples", "Samples", "Ejemplos"),
    ("path", "Image path", "Ruta de la imagen"),
    ("save_snapshot", "Save snapshot", "Guardar instantánea"),
    ("run", "Run", "Ejecutar"),
    ("pause", "Pause", "Pausa"),
    ("attach_gdb", "Attach gdb", "Conectar gdb"),
    ("popek_goldberg", "Popek-Goldberg CPU", "CPU Popek-Goldberg"),
    (
        "popek_goldberg_hint",
        "A virtualizable x86: SGDT, PUSHF, POPF, MOV Sreg, far CALL/JMP/RET, INT n, IRET... \
         raise #GP(0) at CPL > 0. Changing it restarts the image.",
        "Un x86 virtualizable: SGDT, PUSHF, POPF, MOV Sreg, CALL/JMP/RET lejanos, INT n, \
         IRET... lanzan #GP(0) con CPL > 0. Cambiarlo reinicia la imagen.",
    ),
    ("step", "Step", "Paso"),
    ("step_over", "Step over", "Saltar llamada"),
    ("step_out", "Step out", "Salir de la función"),
    ("step_back", "Step back", "Paso atrás"),
    ("run_to", "Run to", "Ejecutar hasta"),
    ("reset", "Reset", "Reiniciar"),
    ("speed", "Speed", "Velocidad"),
    ("flat_out", "flat out", "máxima"),
    ("ips", "instr/s", "instr/s"),
    ("view", "View", "Ver"),
    ("zoom_in", "Zoom in (Ctrl +)", "Ampliar (Ctrl +)"),
    ("zoom_out", "Zoom out (Ctrl -)", "Reducir (Ctrl -)"),
    ("high_contrast", "High contrast", "Alto contraste"),
    ("fullscreen", "Full screen (F11)", "Pantalla completa (F11)"),
    ("language", "Language", "Idioma"),
    ("lessons", "Lessons", "Lecciones"),
    ("debug", "Debug", "Depurar"),
    ("panel", "Panel", "Panel"),
    (
        "pending_step_over",
        "Step over: running until the call returns (Pause stops)",
        "Saltar llamada: ejecutando hasta que la llamada vuelva (Pausa la detiene)",
    ),
    (
        "pending_step_out",
        "Step out: running until the function returns (Pause stops)",
        "Salir: ejecutando hasta que la función vuelva (Pausa la detiene)",
    ),
    (
        "pending_run_to",
        "Run to: running until that line (Pause stops)",
        "Ejecutar hasta: ejecutando hasta esa línea (Pausa la detiene)",
    ),
    ("ring", "ring", "anillo"),
    ("run_key", "Run  (F5)", "Ejecutar  (F5)"),
    ("pause_key", "Pause  (F5)", "Pausa  (F5)"),
    ("step_key", "Step  (F10)", "Paso  (F10)"),
    ("step_over_key", "Step over  (F8)", "Saltar llamada  (F8)"),
    (
        "step_out_key",
        "Step out  (Shift+F8)",
        "Salir de la función  (Shift+F8)",
    ),
    ("step_back_key", "Step back  (F7)", "Paso atrás  (F7)"),
    ("focus_mode", "Focus mode (F6)", "Modo foco (F6)"),
    (
        "first_hint",
        "Press Step (F10) or Run (F5)",
        "Pulsa Paso (F10) o Ejecutar (F5)",
    ),
    ("status", "Status", "Estado"),
    ("running", "running", "ejecutando"),
    ("paused", "paused", "en pausa"),
    ("error", "Error", "Error"),
    ("dismiss", "Dismiss", "Cerrar"),
    ("instructions", "Instructions", "Instrucciones"),
    // Panels
    ("disassembly", "Disassembly", "Desensamblado"),
    ("cpu", "CPU", "CPU"),
    ("memory", "Memory", "Memoria"),
    ("paging", "Paging", "Paginación"),
    ("screen", "Screen", "Pantalla"),
    ("serial", "Serial", "Serie"),
    ("events", "Events", "Eventos"),
    ("devices", "Devices", "Dispositivos"),
    ("statistics", "Statistics", "Estadísticas"),
    // Disassembly
    ("syntax", "Syntax", "Sintaxis"),
    ("follow_pc", "Follow EIP", "Seguir EIP"),
    ("go", "Go", "Ir"),
    ("address", "Address", "Dirección"),
    (
        "click_bp",
        "Click a line to toggle a breakpoint; -> follows a jump",
        "Clic en una línea: punto de ruptura; -> sigue un salto",
    ),
    ("breakpoints", "Breakpoints", "Puntos de ruptura"),
    ("toggle_bp", "Breakpoint", "Punto de ruptura"),
    ("remove", "Click to remove", "Clic para quitar"),
    ("watchpoints", "Watchpoints", "Puntos de observación"),
    ("add", "Add", "Añadir"),
    ("clear", "Clear", "Borrar"),
    ("unmapped", "(not mapped)", "(no mapeada)"),
    ("reads", "reads", "lecturas"),
    ("writes", "writes", "escrituras"),
    // CPU
    ("registers", "Registers", "Registros"),
    ("flags", "Flags", "Indicadores"),
    ("segments", "Segments", "Segmentos"),
    ("selector", "Selector", "Selector"),
    ("base", "Base", "Base"),
    ("limit", "Limit", "Límite"),
    ("dpl", "DPL", "DPL"),
    ("type", "Type", "Tipo"),
    ("control", "Control registers", "Registros de control"),
    ("tables", "Descriptor tables", "Tablas de descriptores"),
    ("mode", "Mode", "Modo"),
    ("cpl", "CPL", "CPL"),
    (
        "changed",
        "changed by the last step",
        "cambiado en el último paso",
    ),
    // Memory
    ("physical", "Physical", "Física"),
    ("linear", "Linear", "Lineal"),
    ("follow", "Follow", "Seguir"),
    ("none", "none", "ninguno"),
    ("stack", "Stack", "Pila"),
    ("return_to", "return to", "retorno a"),
    ("int_frame", "interrupt frame", "marco de interrupción"),
    ("outer_ring", "outer ring", "anillo exterior"),
    // Paging
    ("linear_address", "Linear address", "Dirección lineal"),
    ("explain", "Explain", "Explicar"),
    (
        "nested_paging_on",
        "Nested paging: each guest table address and the final guest-physical address go through the nested tables",
        "Paginación anidada: cada dirección de tabla del invitado y la dirección física final del invitado pasan por las tablas anidadas",
    ),
    ("final_gpa", "final gPA", "gPA final"),
    ("host_physical", "host-physical", "física del anfitrión"),
    (
        "paging_off",
        "Paging is off (CR0.PG = 0): linear = physical",
        "Paginación desactivada (CR0.PG = 0): lineal = física",
    ),
    ("entry", "Entry", "Entrada"),
    ("at", "at", "en"),
    ("result", "Result", "Resultado"),
    (
        "page_fault",
        "page fault, error code",
        "fallo de página, código de error",
    ),
    ("supervisor", "supervisor", "supervisor"),
    ("user", "user", "usuario"),
    ("read", "read", "lectura"),
    ("write", "write", "escritura"),
    // Screen / serial
    (
        "keyboard_to_guest",
        "Click here to type to the guest (PS/2 keyboard)",
        "Haz clic aquí para escribir al invitado (teclado PS/2)",
    ),
    (
        "serial_to_guest",
        "Click here to type to the guest (COM1)",
        "Haz clic aquí para escribir al invitado (COM1)",
    ),
    (
        "typing",
        "typing goes to the guest",
        "lo que escribes va al invitado",
    ),
    ("send", "Send", "Enviar"),
    // Events
    ("filter", "Filter", "Filtro"),
    ("exceptions", "Exceptions", "Excepciones"),
    ("interrupts", "Interrupts", "Interrupciones"),
    ("privilege", "Privilege", "Privilegio"),
    ("other", "Other", "Otros"),
    ("worlds", "World switches", "Cambios de mundo"),
    ("world", "World", "Mundo"),
    ("world_host", "host", "anfitrión"),
    ("world_guest", "guest, ASID", "invitado, ASID"),
    ("world_kernel", "kernel", "núcleo"),
    ("world_user", "user", "usuario"),
    ("vmcb", "VMCB", "VMCB"),
    ("vmcb_running", "guest running", "invitado en ejecución"),
    ("vmcb_last", "last guest", "último invitado"),
    ("intercepts", "Intercepts on", "Intercepciones activas"),
    ("last_exit", "Last exit", "Última salida"),
    ("nested_paging", "nested paging", "paginación anidada"),
    ("exits_total", "exits", "salidas"),
    (
        "vmrun_event",
        "VMRUN: enter guest ASID",
        "VMRUN: entra al invitado ASID",
    ),
    ("vmexit_event", "#VMEXIT", "#VMEXIT"),
    ("collapse_noise", "Group timer/HLT", "Agrupar reloj/HLT"),
    ("lanes", "Lanes", "Carriles"),
    ("lane_user", "ring 3 (user)", "anillo 3 (usuario)"),
    ("lane_kernel", "ring 0 (kernel)", "anillo 0 (núcleo)"),
    // Virtualization views
    ("virtualization", "Hypervisor", "Hipervisor"),
    ("virtualization_samples", "Virtualization", "Virtualización"),
    ("virt_timeline", "Worlds timeline", "Cronograma de mundos"),
    ("virt_ledger", "Exit ledger", "Libro de salidas"),
    ("virt_nested", "Nested paging", "Paginación anidada"),
    ("virt_stepper", "Trap-and-emulate stepper", "Paso a paso de trap-and-emulate"),
    (
        "walk_2d",
        "two-dimensional walk (guest tables through the nested tables)",
        "recorrido bidimensional (tablas del invitado a través de las anidadas)",
    ),
    ("walk_native", "native walk", "recorrido nativo"),
    ("memory_references", "memory references", "accesos a memoria"),
    ("guest_level", "guest level", "nivel del invitado"),
    ("nested_short", "nested", "anidada"),
    ("guest_entry", "guest entry", "entrada del invitado"),
    ("tlb_entry", "TLB entry it leaves", "Entrada de TLB que deja"),
    ("use_eip", "EIP", "EIP"),
    ("run_to_exit", "Run to next exit", "Ejecutar hasta la próxima salida"),
    ("step_handler", "Step through the handler", "Paso a paso por el manejador"),
    ("back_to_guest", "Back to the guest", "Volver al invitado"),
    ("trapping_instruction", "Trapping guest instruction", "Instrucción del invitado que atrapa"),
    ("at_icount", "at instruction", "en la instrucción"),
    (
        "about_to_trap",
        "the guest is about to run it: the next step exits",
        "el invitado va a ejecutarla: el próximo paso sale",
    ),
    ("no_exit_yet", "no exit or trap yet", "aún no hay salida ni trampa"),
    ("exit_fields", "Exit fields", "Campos de la salida"),
    (
        "step_to_see_vmcb",
        "step into the handler to read the VMCB",
        "avanza al manejador para leer la VMCB",
    ),
    (
        "step_to_see_frame",
        "step into the handler to see the trap frame",
        "avanza al manejador para ver el marco de la trampa",
    ),
    ("handler", "Hypervisor handler", "Manejador del hipervisor"),
    ("instr_since_exit", "instructions since the exit", "instrucciones desde la salida"),
    ("effect", "Changed by the handling", "Cambiado por el manejo"),
    (
        "trap_frame_hint",
        "trap frame on the ring-0 stack (at ESP, before the stub pushes more)",
        "marco de la trampa en la pila del anillo 0 (en ESP, antes de que el stub apile más)",
    ),
    (
        "lane_hypervisor",
        "hypervisor / host kernel (ring 0)",
        "hipervisor / núcleo anfitrión (anillo 0)",
    ),
    ("lane_host_user", "host user (ring 3)", "usuario anfitrión (anillo 3)"),
    (
        "lane_guest_user_r3",
        "guest user (ring 3)",
        "usuario del invitado (anillo 3)",
    ),
    (
        "lane_deprivileged",
        "guest kernel (deprivileged, ring",
        "núcleo invitado (desprivilegiado, anillo",
    ),
    ("lane_guest", "guest ASID", "invitado ASID"),
    ("switches_kept", "world switches kept", "cambios de mundo guardados"),
    ("fit", "Fit", "Ajustar"),
    (
        "timeline_hint",
        "scroll: zoom, drag: pan, click a switch: travel back to it",
        "rueda: zoom, arrastrar: desplazar, clic en un cambio: viajar a él",
    ),
    ("legend_exit", "#VMEXIT", "#VMEXIT"),
    ("legend_vmrun", "VMRUN", "VMRUN"),
    ("legend_trap", "trap", "trampa"),
    ("legend_pf", "page fault", "fallo de página"),
    ("legend_int", "int n (system call)", "int n (llamada al sistema)"),
    ("legend_hypercall", "hypercall", "hiperllamada"),
    ("legend_irq", "device interrupt", "interrupción de dispositivo"),
    ("legend_return", "return to the guest", "vuelta al invitado"),
    (
        "vm_deprivileged",
        "deprivileged guest",
        "invitado desprivilegiado",
    ),
    ("ledger_core", "Ledger (since boot)", "Libro (desde el arranque)"),
    ("charged", "charged", "cobrado"),
    ("nested_walks", "nested walks", "recorridos anidados"),
    (
        "no_exits",
        "No exits or traps into a hypervisor in the events kept (load svmtest, tevmm or hv1/hv2).",
        "No hay salidas ni trampas a un hipervisor en los eventos guardados (carga svmtest, tevmm o hv1/hv2).",
    ),
    (
        "ledger_window",
        "Exits and traps in the events kept:",
        "Salidas y trampas en los eventos guardados:",
    ),
    ("ledger_all", "all since boot", "todas desde el arranque"),
    ("bars", "Bars:", "Barras:"),
    ("virtual_time_us", "virtual time (µs)", "tiempo virtual (µs)"),
    ("count", "count", "número"),
    ("cause", "cause", "causa"),
    ("vm", "VM", "MV"),
    ("count_all", "since boot", "desde el arranque"),
    ("handler_mean", "handler instr. (mean)", "instr. del manejador (media)"),
    ("share", "share", "parte"),
    ("instr_short", "instr.", "instr."),
    (
        "external_interrupt",
        "external interrupt",
        "interrupción externa",
    ),
    (
        "software_interrupt",
        "software interrupt",
        "interrupción software",
    ),
    ("page_fault_at", "page fault at", "fallo de página en"),
    ("exception", "exception", "excepción"),
    ("mode_protected", "protected", "protegido"),
    ("mode_real", "real", "real"),
    ("mode_v86", "virtual-8086", "8086 virtual"),
    (
        "hlt_event",
        "HLT (waiting for an interrupt)",
        "HLT (espera una interrupción)",
    ),
    (
        "pf_address",
        "page-fault address",
        "dirección del fallo de página",
    ),
    ("page_directory", "page directory", "directorio de páginas"),
    (
        "goto_event",
        "Click an event to travel to that moment",
        "Haz clic en un evento para viajar a ese momento",
    ),
    (
        "too_far_back",
        "too far back: the oldest reachable instruction is",
        "demasiado atrás: la instrucción más antigua alcanzable es",
    ),
    // Devices / stats
    ("pic", "PIC (8259A)", "PIC (8259A)"),
    ("pit", "PIT (8254)", "PIT (8254)"),
    ("uart", "UART (16550A, COM1)", "UART (16550A, COM1)"),
    ("lapic", "Local APIC", "APIC local"),
    ("ioapic", "I/O APIC (82093AA)", "APIC de E/S (82093AA)"),
    ("mips", "MIPS", "MIPS"),
    ("tlb_hits", "TLB hit rate", "Aciertos de TLB"),
    (
        "cache_hits",
        "Decode cache hit rate",
        "Aciertos de la caché de decodificación",
    ),
    ("by_vector", "by vector", "por vector"),
    ("halted_ticks", "Ticks halted", "Ciclos detenido"),
    (
        "reverse_window",
        "Step back reaches",
        "El paso atrás alcanza",
    ),
    // Lessons
    ("lesson", "Lesson", "Lección"),
    ("next", "Next", "Siguiente"),
    ("previous", "Previous", "Anterior"),
    ("do_it", "Do it", "Hazlo"),
    ("playing", "Playing…", "Reproduciendo…"),
    ("space", "Space", "Espacio"),
    ("seconds_per_instr", "s/instr.", "s/instr."),
    ("autoplay", "Auto-play", "Reproducción automática"),
    ("close", "Close", "Cerrar"),
    // Errors and stops
    ("stopped_bp", "breakpoint", "punto de ruptura"),
    ("stopped_wp", "watchpoint", "punto de observación"),
    (
        "guest_exit",
        "guest exited with status",
        "el invitado terminó con estado",
    ),
    ("halted", "halted for good", "detenido para siempre"),
    (
        "triple_fault",
        "triple fault: the machine shut down",
        "triple fallo: la máquina se apagó",
    ),
    (
        "guest_reset",
        "the guest asked for a reset",
        "el invitado pidió un reinicio",
    ),
    ("loaded", "loaded", "cargado"),
    ("bad_image", "cannot load", "no se puede cargar"),
];

/// The label for `key` in `lang` (the key itself if the table lacks it).
pub fn tr(lang: Lang, key: &'static str) -> &'static str {
    for (k, en, es) in TABLE.iter().chain(crate::i18n_virt::TABLE) {
        if *k == key {
            return match lang {
                Lang::En => en,
                Lang::Es => es,
            };
        }
    }
    debug_assert!(false, "missing i18n key {key}");
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_translated() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, es) in TABLE.iter().chain(crate::i18n_virt::TABLE) {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!en.is_empty() && !es.is_empty(), "{k}");
        }
        assert_eq!(tr(Lang::Es, "step"), "Paso");
        assert_eq!(tr(Lang::En, "step"), "Step");
    }
}
