/* The guest's images, built into the VMM's read-only data. They stay pristine: a guest reset
 * copies them into guest RAM again. Paths come from the build (-DGUEST_KERNEL="..."); with
 * GUEST_IMAGES=preload only the device tree is here (the boot loader places kernel and initrd). */
    .section .rodata.guest_images, "a"

    .p2align 12
    .global guest_kernel_image, guest_kernel_image_end
guest_kernel_image:
#ifdef GUEST_KERNEL
    .incbin GUEST_KERNEL
#endif
guest_kernel_image_end:

    .p2align 12
    .global guest_dtb_image, guest_dtb_image_end
guest_dtb_image:
    .incbin GUEST_DTB
guest_dtb_image_end:

    .p2align 12
    .global guest_initrd_image, guest_initrd_image_end
guest_initrd_image:
#ifdef GUEST_INITRD
    .incbin GUEST_INITRD
#endif
guest_initrd_image_end:
