//! The virtualization lessons (English and Spanish): trap-and-emulate with SVM, type 1
//! against type 2, why x86 was not virtualizable, nested paging, a container is a
//! process, VMs against containers in numbers. Data only, played by `lessons`'s player
//! with the same actions as the toolbar and the Hypervisor tab.

use crate::lessons::{Action, Lesson, LessonStep};
use crate::panels::virt::VirtView;
use crate::panels::PanelId;

pub const LESSONS: &[Lesson] = &[
    Lesson {
        title_en: "Trap-and-emulate with SVM",
        title_es: "Trap-and-emulate con SVM",
        steps: &[
            LessonStep {
                en: "# hv1, a type-1 hypervisor\nhv1 is the first software on the machine. With AMD SVM it gives each VM a **VMCB** (the guest's state and what to intercept) and an ASID, and enters it with `VMRUN`. Each VM runs the same unmodified minios.\n- *Do it* boots hv1 with two VMs and runs 30 million instructions.\n- Worlds timeline: a lane for the hypervisor and for each guest's kernel and user space; every switch has its cause.",
                es: "# hv1, un hipervisor de tipo 1\nhv1 es el primer software de la máquina. Con AMD SVM da a cada VM un **VMCB** (el estado del invitado y lo que se intercepta) y un ASID, y entra en ella con `VMRUN`. Cada VM ejecuta el mismo minios sin modificar.\n- *Hazlo* arranca hv1 con dos VM y ejecuta 30 millones de instrucciones.\n- Cronograma de mundos: un carril para el hipervisor y otro para el núcleo y el espacio de usuario de cada invitado; cada cambio lleva su causa.",
                actions: &[
                    Action::Sample("hv1"),
                    Action::RunFor(30_000_000),
                    Action::Virt(VirtView::Timeline),
                ],
            },
            LessonStep {
                en: "# The trap\n*Do it* runs to the next **#VMEXIT** and stops exactly there: the guest did something its VMCB intercepts (an I/O port: `IOIO`; `CPUID`; an interrupt: `INTR`...). The CPU saved the guest in the VMCB and went back to hv1, right after its `VMRUN`.\n- Stepper: the trapping guest instruction, the exit code and EXITINFO1/2 decoded.",
                es: "# La trampa\n*Hazlo* ejecuta hasta la siguiente **#VMEXIT** y se para justo ahí: el invitado hizo algo que su VMCB intercepta (un puerto de E/S: `IOIO`; `CPUID`; una interrupción: `INTR`...). La CPU guardó el invitado en el VMCB y volvió a hv1, justo después de su `VMRUN`.\n- Paso a paso: la instrucción del invitado que salió, el código de salida y EXITINFO1/2 decodificados.",
                actions: &[Action::ToSwitch(true), Action::Virt(VirtView::Stepper)],
            },
            LessonStep {
                en: "# The emulation\n*Do it* steps through hv1's handler: it reads the exit code from the VMCB and does what the hardware would have done for the guest (for `IOIO`, its virtual UART, PIC or PIT), then advances the guest's RIP past the instruction.",
                es: "# La emulación\n*Hazlo* avanza por el manejador de hv1: lee el código de salida del VMCB y hace lo que el hardware habría hecho para el invitado (para `IOIO`, su UART, PIC o PIT virtuales); después avanza el RIP del invitado más allá de la instrucción.",
                actions: &[Action::Step(6), Action::Virt(VirtView::Stepper)],
            },
            LessonStep {
                en: "# Back to the guest\n*Do it* runs to `VMRUN` and executes it: the guest runs again. The exit ledger counts the exits by cause and what they cost in virtual time: the #VMEXIT and VMRUN of the cost model plus the handler's instructions.",
                es: "# Vuelta al invitado\n*Hazlo* ejecuta hasta `VMRUN` y lo ejecuta: el invitado corre de nuevo. El libro de salidas cuenta las salidas por causa y lo que costaron en tiempo virtual: la #VMEXIT y el VMRUN del modelo de costes más las instrucciones del manejador.",
                actions: &[
                    Action::ToSwitch(false),
                    Action::Step(1),
                    Action::Virt(VirtView::Ledger),
                ],
            },
        ],
    },
    Lesson {
        title_en: "Type 1 against type 2",
        title_es: "Tipo 1 frente a tipo 2",
        steps: &[
            LessonStep {
                en: "# Type 1\nhv1 runs on the hardware: between a guest's exit and its next `VMRUN` only the hypervisor runs, at ring 0.\n- *Do it* boots hv1, runs, and goes through one exit.\n- Architecture: the layers of this machine beside a type-2 stack; the yellow path is the last exit and its cost.",
                es: "# Tipo 1\nhv1 corre sobre el hardware: entre la salida de un invitado y su siguiente `VMRUN` solo corre el hipervisor, en el anillo 0.\n- *Hazlo* arranca hv1, lo ejecuta y pasa por una salida.\n- Arquitectura: las capas de esta máquina junto a una pila de tipo 2; el camino amarillo es la última salida y su coste.",
                actions: &[
                    Action::Sample("hv1"),
                    Action::RunFor(30_000_000),
                    Action::ToSwitch(true),
                    Action::ToSwitch(false),
                    Action::Step(1),
                    Action::Virt(VirtView::Arch),
                ],
            },
            LessonStep {
                en: "# Type 2\nNow minios is the **host OS**: its driver `vm.c` plays KVM (it owns the VMCB and runs `VMRUN`), and the user program `vmm` plays QEMU (it loads the guest and emulates its devices). The guest is again an unmodified minios.\n- *Do it* boots it (`autorun=vmm`) and runs until the guest's shell is up.",
                es: "# Tipo 2\nAhora minios es el **SO anfitrión**: su driver `vm.c` hace de KVM (tiene el VMCB y ejecuta `VMRUN`) y el programa de usuario `vmm` hace de QEMU (carga el invitado y emula sus dispositivos). El invitado es otra vez un minios sin modificar.\n- *Hazlo* lo arranca (`autorun=vmm`) y ejecuta hasta que el shell del invitado está listo.",
                actions: &[
                    Action::Sample("hv2"),
                    Action::RunFor(80_000_000),
                    Action::Virt(VirtView::Arch),
                ],
            },
            LessonStep {
                en: "# The longer way\n*Do it* types `ps` for the guest and runs. The guest's console is an I/O port: its exit goes to the host kernel, which returns from `vmm`'s system call; `vmm` emulates the UART in user space and asks the kernel to enter the guest again. Follow the path in the Architecture view and compare its cost with hv1's.",
                es: "# El camino largo\n*Hazlo* escribe `ps` para el invitado y ejecuta. La consola del invitado es un puerto de E/S: su salida va al núcleo anfitrión, que vuelve de la llamada al sistema de `vmm`; `vmm` emula la UART en espacio de usuario y pide al núcleo que entre de nuevo en el invitado. Sigue el camino en la vista de Arquitectura y compara su coste con el de hv1.",
                actions: &[
                    Action::Type("ps\n"),
                    Action::RunFor(20_000_000),
                    Action::ToSwitch(true),
                    Action::ToSwitch(false),
                    Action::Step(1),
                    Action::Virt(VirtView::Arch),
                ],
            },
            LessonStep {
                en: "# Where the time goes\nThe exit ledger splits the host's time: the instructions between an exit and the next `VMRUN` include the host kernel and `vmm`. That is why a type-2 exit costs more than a type-1 exit for the same cause.",
                es: "# A dónde va el tiempo\nEl libro de salidas reparte el tiempo del anfitrión: las instrucciones entre una salida y el siguiente `VMRUN` incluyen el núcleo anfitrión y `vmm`. Por eso una salida de tipo 2 cuesta más que una de tipo 1 por la misma causa.",
                actions: &[Action::Virt(VirtView::Ledger)],
            },
        ],
    },
    Lesson {
        title_en: "Why x86 was not virtualizable (and Popek and Goldberg's fix)",
        title_es: "Por qué el x86 no era virtualizable (y el arreglo de Popek y Goldberg)",
        steps: &[
            LessonStep {
                en: "# Trap-and-emulate without SVM\ntevmm runs minios's kernel **deprivileged**, at ring 1. A privileged instruction there (`CLI`, `LGDT`, `MOV CR3`...) traps into tevmm with #GP, and tevmm emulates it: that is classic trap-and-emulate.\n- *Do it* boots tevmm + minios until the shell is up.",
                es: "# Trap-and-emulate sin SVM\ntevmm ejecuta el núcleo de minios **sin privilegios**, en el anillo 1. Allí una instrucción privilegiada (`CLI`, `LGDT`, `MOV CR3`...) salta a tevmm con #GP, y tevmm la emula: es el trap-and-emulate clásico.\n- *Hazlo* arranca tevmm + minios hasta que el shell está listo.",
                actions: &[
                    Action::Sample("tevmm + minios (trap"),
                    Action::RunFor(100_000_000),
                    Action::Virt(VirtView::Ledger),
                ],
            },
            LessonStep {
                en: "# Sensitive but not privileged\n*Do it* runs `pgcheck`: the kernel executes 15 **sensitive** instructions (they read or change privileged state) and compares what it sees with ring 0. On the i386, `SGDT`, `MOV r,CS`, `POPF`... run at ring 1 **without trapping** and show the monitor: Popek and Goldberg's condition fails (the sensitive instructions are not all privileged).\n- Serial tab: `pgcheck: 11 of 15 checks differ from ring 0`.",
                es: "# Sensibles pero no privilegiadas\n*Hazlo* ejecuta `pgcheck`: el núcleo ejecuta 15 instrucciones **sensibles** (leen o cambian estado privilegiado) y compara lo que ve con el anillo 0. En el i386, `SGDT`, `MOV r,CS`, `POPF`... corren en el anillo 1 **sin saltar** y dejan ver al monitor: falla la condición de Popek y Goldberg (no todas las instrucciones sensibles son privilegiadas).\n- Pestaña Serie: `pgcheck: 11 of 15 checks differ from ring 0`.",
                actions: &[
                    Action::Type("pgcheck\n"),
                    Action::RunFor(80_000_000),
                    Action::Highlight(PanelId::Serial),
                ],
            },
            LessonStep {
                en: "# The fix\nThe `--popek-goldberg` CPU makes every sensitive instruction trap outside ring 0. *Do it* boots the same guest on it and runs `pgcheck` again: tevmm now sees and emulates each one, and the guest cannot tell it is not at ring 0 (their theorem 1).\n- Serial tab: `0 of 15 checks differ`.\n- Real x86 took another road in 2005-2006: a guest mode (AMD SVM, Intel VT-x) where the VMCB says what exits.",
                es: "# El arreglo\nLa CPU `--popek-goldberg` hace que toda instrucción sensible salte fuera del anillo 0. *Hazlo* arranca el mismo invitado en ella y ejecuta otra vez `pgcheck`: tevmm ahora ve y emula cada una, y el invitado no distingue que no está en el anillo 0 (su teorema 1).\n- Pestaña Serie: `0 of 15 checks differ`.\n- El x86 real tomó otro camino en 2005-2006: un modo invitado (AMD SVM, Intel VT-x) donde el VMCB dice qué sale.",
                actions: &[
                    Action::Sample("tevmm + minios, --popek"),
                    Action::RunFor(100_000_000),
                    Action::Type("pgcheck\n"),
                    Action::RunFor(80_000_000),
                    Action::Highlight(PanelId::Serial),
                ],
            },
            LessonStep {
                en: "# What it costs\nEvery emulated instruction is a trap into the monitor. The ledger counts them by cause: compare the #GP traps with those of the first run.",
                es: "# Lo que cuesta\nCada instrucción emulada es una trampa al monitor. El libro las cuenta por causa: compara las trampas #GP con las de la primera ejecución.",
                actions: &[Action::Virt(VirtView::Ledger)],
            },
        ],
    },
    Lesson {
        title_en: "Nested paging",
        title_es: "Paginación anidada",
        steps: &[
            LessonStep {
                en: "# Two page tables\nIn a VM with nested paging the guest's page tables map guest-virtual to **guest-physical** addresses, and the hypervisor's nested tables map guest-physical to host-physical. The CPU walks both.\n- *Do it* boots hv1 and stops inside a guest.",
                es: "# Dos tablas de páginas\nEn una VM con paginación anidada las tablas del invitado traducen direcciones virtuales del invitado a **físicas del invitado**, y las tablas anidadas del hipervisor traducen físicas del invitado a físicas del anfitrión. La CPU recorre las dos.\n- *Hazlo* arranca hv1 y se para dentro de un invitado.",
                actions: &[
                    Action::Sample("hv1"),
                    Action::RunFor(30_000_000),
                    Action::ToSwitch(false),
                    Action::Step(1),
                    Action::Nested(0x0040_0000),
                ],
            },
            LessonStep {
                en: "# The two-dimensional walk\nEvery entry of the guest's table is at a guest-physical address, so reading it needs a nested walk first; so does the final address. The grid numbers every memory reference in order; a native walk makes 2. hv1 maps its guests with 2 MiB nested pages, which shortens each nested walk.\n- The walk ends in a TLB entry: the next access to the page makes no references at all.",
                es: "# El recorrido bidimensional\nCada entrada de la tabla del invitado está en una dirección física del invitado, así que leerla necesita antes un recorrido anidado; la dirección final también. La cuadrícula numera cada referencia a memoria en orden; un recorrido nativo hace 2. hv1 mapea sus invitados con páginas anidadas de 2 MiB, lo que acorta cada recorrido anidado.\n- El recorrido acaba en una entrada del TLB: el siguiente acceso a la página no hace ninguna referencia.",
                actions: &[Action::Nested(0x0040_0000)],
            },
        ],
    },
    Lesson {
        title_en: "A container is a process",
        title_es: "Un contenedor es un proceso",
        steps: &[
            LessonStep {
                en: "# The engine\nminios has namespaces (PID, mount, UTS, network, IPC), layered roots and limits, and `dockerd`, a daemon that speaks Docker's Engine API.\n- *Do it* boots minios (its init starts `dockerd` at boot) and runs the same program twice: `hello` on the host shell, then in a container.",
                es: "# El motor\nminios tiene espacios de nombres (PID, montaje, UTS, red, IPC), raíces por capas y límites, y `dockerd`, un demonio que habla la API de Docker Engine.\n- *Hazlo* arranca minios (su init lanza `dockerd` al arrancar) y ejecuta el mismo programa dos veces: `hello` en el shell del anfitrión y luego en un contenedor.",
                actions: &[
                    Action::Sample("minios with the engine"),
                    Action::RunFor(30_000_000),
                    Action::Type("hello\ndocker run --name first box hello\n"),
                    Action::RunFor(120_000_000),
                    Action::Highlight(PanelId::Serial),
                ],
            },
            LessonStep {
                en: "# Process 1 of its namespace\nIn the container `hello` says it is **process 1**: it lives in a new PID namespace, a new root (the image's layers) and its own hostname. It is still an ordinary process of the same kernel: no second kernel, no hypervisor, no exits.\n- *Do it* starts a container that stays (`nc`), then `ps` on the host and `docker inspect web`: the host sees its real PID.\n- The Containers view reads the same from the kernel's own tables: the PID mapping, the hostname, the root layers, the network and the cgroup's limits.",
                es: "# Proceso 1 de su espacio de nombres\nEn el contenedor `hello` dice que es el **proceso 1**: vive en un espacio de nombres de PID nuevo, una raíz nueva (las capas de la imagen) y su propio nombre de máquina. Sigue siendo un proceso corriente del mismo núcleo: ni segundo núcleo, ni hipervisor, ni salidas.\n- *Hazlo* arranca un contenedor que se queda (`nc`), luego `ps` en el anfitrión y `docker inspect web`: el anfitrión ve su PID real.\n- La vista Contenedores lee lo mismo de las tablas del propio núcleo: la correspondencia de PID, el nombre de máquina, las capas de la raíz, la red y los límites del cgroup.",
                actions: &[
                    Action::Type("docker run -d --name web box nc -l -k -e 80\nps\ndocker inspect web\n"),
                    Action::RunFor(150_000_000),
                    Action::Virt(VirtView::Containers),
                ],
            },
            LessonStep {
                en: "# One kernel\nThe Architecture view shows this machine: one operating system on the hardware, applications above it. The containers are among those applications.",
                es: "# Un solo núcleo\nLa vista de Arquitectura muestra esta máquina: un sistema operativo sobre el hardware y aplicaciones encima. Los contenedores están entre esas aplicaciones.",
                actions: &[Action::Virt(VirtView::Arch)],
            },
        ],
    },
    Lesson {
        title_en: "VMs against containers in numbers",
        title_es: "VM frente a contenedores en números",
        steps: &[
            LessonStep {
                en: "# The same work everywhere\n*Do it* runs `traplab compare` (reduced): the same minios workloads natively, in a container, under tevmm (trap-and-emulate and paravirtual) and under hv1, each on a fresh machine on a thread of its own. Everything is virtual time, so the numbers are the same on every computer.",
                es: "# El mismo trabajo en todas partes\n*Hazlo* ejecuta `traplab compare` (reducida): las mismas cargas de minios en nativo, en un contenedor, bajo tevmm (trap-and-emulate y paravirtual) y bajo hv1, cada una en una máquina nueva y en su propio hilo. Todo es tiempo virtual, así que los números son iguales en cualquier ordenador.",
                actions: &[Action::Virt(VirtView::Compare), Action::Compare],
            },
            LessonStep {
                en: "# Reading the chart\nBars are time over native (log scale). The published shape (Felter et al., 2015): a container is close to native everywhere; a VM is close on CPU-bound work and pays on system calls, page tables and I/O, where it exits; start-up is orders of magnitude apart.\n- Switch to *exits per 1000 instructions*: the container has none.",
                es: "# Cómo leer el gráfico\nLas barras son tiempo sobre nativo (escala logarítmica). La forma publicada (Felter et al., 2015): un contenedor está cerca de nativo en todo; una VM está cerca en cálculo y paga en llamadas al sistema, tablas de páginas y E/S, donde sale; el arranque difiere en órdenes de magnitud.\n- Cambia a *salidas por 1000 instrucciones*: el contenedor no tiene ninguna.",
                actions: &[Action::Virt(VirtView::Compare)],
            },
        ],
    },
];
