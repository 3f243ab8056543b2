//! The labels of the virtualization views added after the first four (comparison chart,
//! architecture, containers), English and Spanish, in the same form as `i18n`'s table
//! (which looks here too). Strings only.

/// (key, English, Spanish).
pub const TABLE: &[(&str, &str, &str)] = &[
    // Comparison chart
    ("virt_compare", "Comparison chart", "Gráfico comparativo"),
    ("cmp_run", "Run the comparison", "Ejecutar la comparación"),
    ("cmp_stop", "Stop", "Detener"),
    ("cmp_reduced", "reduced (a quarter of the work)", "reducida (un cuarto del trabajo)"),
    ("cmp_ratio", "time / native", "tiempo / nativo"),
    ("cmp_exits", "exits per 1000 instructions", "salidas por 1000 instrucciones"),
    ("cmp_log", "log scale", "escala logarítmica"),
    ("cmp_running", "measuring", "midiendo"),
    (
        "cmp_none",
        "No comparison yet: run it (each cell boots its own machine; the one above keeps running).",
        "Aún no hay comparación: ejecútela (cada celda arranca su propia máquina; la de arriba sigue).",
    ),
    ("cmp_sizes", "work sizes:", "tamaños del trabajo:"),
    ("cmp_setting", "setting", "configuración"),
    ("cmp_cpu", "CPU-bound", "cálculo"),
    ("cmp_sys", "system calls", "llamadas al sistema"),
    ("cmp_pf", "page tables", "tablas de páginas"),
    ("cmp_io", "console I/O", "E/S de consola"),
    ("cmp_start", "start-up", "arranque"),
];
