/* The bare-metal test guest, which the floor PD copies into guest RAM (FLOOR_GUEST: its path). */
    .section .rodata
    .balign 16
    .global floor_guest, floor_guest_end
floor_guest:
    .incbin FLOOR_GUEST
floor_guest_end:
