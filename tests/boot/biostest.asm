; biostest: a boot sector that exercises Traplab's built-in BIOS and reports on COM1
; through INT 14h, so that tests/boot.rs can compare its serial output.
; Build: nasm -f bin -o biostest.img biostest.asm   (the image is 8 sectors: 4 KiB)
; Sector 0 loads sectors 1-3 (the rest of the program) to 0x7E00 with INT 13h AH=02h.
; Sector 4 holds "SECTOR-4", sector 5 "SECTOR-5"; sector 6 is written and read back.
bits 16
org 0x7C00

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov [drive], dl
    mov ax, 0x0203              ; stage 2: sectors 1-3 to 0x7E00
    mov cx, 0x0002
    xor dh, dh
    mov bx, 0x7E00
    int 0x13
    jc fail
    jmp stage2

fail:
    mov si, msg_fail
    call puts
    mov al, ah
    call hex8
    call nl
    mov al, 1
    out 0xF4, al
    hlt

; puts: DS:SI zero-terminated string to COM1 through INT 14h
puts:
    pusha
.l: lodsb
    test al, al
    jz .d
    mov ah, 0x01
    xor dx, dx
    int 0x14
    jmp .l
.d: popa
    ret

nl:
    push ax
    mov al, 10
    call putc
    pop ax
    ret

putc:
    pusha
    mov ah, 0x01
    xor dx, dx
    int 0x14
    popa
    ret

hex16:
    push ax
    mov al, ah
    call hex8
    pop ax
hex8:
    push ax
    shr al, 4
    call hexd
    pop ax
    push ax
    and al, 15
    call hexd
    pop ax
    ret
hexd:
    push ax
    add al, '0'
    cmp al, '9'
    jbe .o
    add al, 7
.o: call putc
    pop ax
    ret

drive: db 0
msg_fail:  db "FAIL ", 0

times 510-($-$$) db 0
dw 0xAA55

stage2:

    mov si, msg_hello           ; INT 14h output
    call puts
    mov al, [drive]             ; boot drive
    call hex8
    call nl

    mov ax, 0x0E41              ; INT 10h teletype 'A' (screen only)
    xor bx, bx
    int 0x10
    mov ah, 0x03                ; cursor now at column 1
    int 0x10
    mov si, msg_cur
    call puts
    mov ax, dx
    call hex16
    call nl

    int 0x12                    ; conventional memory (KiB)
    mov si, msg_mem
    call puts
    call hex16
    call nl

    mov ah, 0x08                ; drive parameters
    mov dl, [drive]
    int 0x13
    mov si, msg_geom
    call puts
    mov ax, cx
    call hex16
    mov al, dh
    call hex8
    call nl

    mov ax, 0x0201              ; read CHS 0/0/5 (sector 4) to 0xA000
    mov cx, 0x0005
    xor dh, dh
    mov dl, [drive]
    mov bx, 0xA000
    int 0x13
    jc fail
    mov si, 0xA000
    call puts
    call nl

    mov ah, 0x41                ; LBA extensions present?
    mov bx, 0x55AA
    mov dl, [drive]
    int 0x13
    jc fail
    mov ah, 0x42                ; extended read of LBA 5 to 0xA200
    mov si, dap
    mov dl, [drive]
    int 0x13
    jc fail
    mov si, 0xA200
    call puts
    call nl

    mov si, msg_w               ; write "WRITTEN" to LBA 6 (CHS 0/0/7), read it back
    mov di, 0xA400
    mov cx, 8
    rep movsb
    mov ax, 0x0301
    mov cx, 0x0007
    xor dh, dh
    mov dl, [drive]
    mov bx, 0xA400
    int 0x13
    jc fail
    mov byte [0xA400], 0
    mov ax, 0x0201
    mov cx, 0x0007
    int 0x13
    jc fail
    mov si, 0xA400
    call puts
    call nl

    xor ebx, ebx                ; E820: count the entries
    xor bp, bp
.e820:
    mov eax, 0xE820
    mov edx, 0x534D4150
    mov ecx, 20
    mov di, 0x9000
    int 0x15
    jc .e820done
    inc bp
    test ebx, ebx
    jnz .e820
.e820done:
    mov si, msg_e820
    call puts
    mov ax, bp
    call hex8
    call nl

    mov si, msg_a20             ; A20 off: FFFF:0510 wraps to 0000:0500; on: it does not
    call puts
    mov byte [0x500], 0
    mov ax, 0x2400
    int 0x15
    call a20_probe
    mov ax, 0x2401
    int 0x15
    call a20_probe
    call nl

    mov ax, 0xE801              ; memory sizes: E801h (AX KiB to 16M, BX 64K blocks), 88h
    int 0x15
    mov si, msg_e801
    call puts
    call hex16
    mov ax, bx
    call hex16
    mov ah, 0x88
    int 0x15
    mov si, msg_ext
    call puts
    call hex16
    int 0x11                    ; equipment word
    mov si, msg_equip
    call puts
    call hex16
    mov ah, 0x04                ; RTC date (BCD): century, year, month, day
    int 0x1A
    mov si, msg_date
    call puts
    mov ax, cx
    call hex16
    mov ax, dx
    call hex16
    call nl

    mov ah, 0x77                ; unknown INT 10h function: CF and AH=86h
    int 0x10
    sbb bl, bl                  ; BL = FF when CF was set
    mov si, msg_unk
    call puts
    mov al, ah
    call hex8
    mov al, bl
    call hex8
    call nl

    mov ah, 0x00                ; ticks advance while we wait with sti; hlt
    int 0x1A
    mov bx, dx
.wait:
    sti
    hlt
    xor ah, ah
    int 0x1A
    cmp dx, bx
    je .wait
    mov si, msg_tick
    call puts

    mov si, msg_keys            ; echo typed keys until Enter (INT 16h reads COM1 too)
    call puts
.key:
    xor ah, ah
    int 0x16
    cmp al, 13
    je .keysdone
    mov dx, ax
    mov ah, 0x01
    mov al, dl
    xor dx, dx
    int 0x14
    jmp .key
.keysdone:
    call nl
    mov si, msg_bye
    call puts
    mov al, 0
    out 0xF4, al
    hlt

; a20_probe: prints the A20 status (INT 15h AX=2402h), then writes FFFF:0510 and prints
; the byte at 0000:0500
a20_probe:
    mov ax, 0x2402
    int 0x15
    call hex8
    push es
    mov ax, 0xFFFF
    mov es, ax
    inc byte [es:0x510]
    pop es
    mov al, [0x500]
    call hex8
    ret

dap: db 16, 0
     dw 1, 0xA200, 0
     dq 5
msg_hello: db "biostest: boot drive ", 0
msg_cur:   db "cursor ", 0
msg_mem:   db "int12 ", 0
msg_geom:  db "geometry ", 0
msg_w:     db "WRITTEN", 0
msg_e820:  db "e820 entries ", 0
msg_unk:   db "unknown ", 0
msg_a20:   db "a20 ", 0
msg_e801:  db "e801 ", 0
msg_ext:   db " ext ", 0
msg_equip: db " equip ", 0
msg_date:  db " date ", 0
msg_tick:  db "tick", 10, 0
msg_keys:  db "keys: ", 0
msg_bye:   db "bye", 10, 0

times 2048-($-$$) db 0
db "SECTOR-4", 0
times 2560-($-$$) db 0
db "SECTOR-5", 0
times 3072-($-$$) db 0
db "old", 0
times 4096-($-$$) db 0
