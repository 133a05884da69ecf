# The timer PD: sources besides the generated configuration and the component seam.
timer_SRCS := components/timer/timer.c components/timer/main.c
