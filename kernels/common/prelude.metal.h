/* prelude.metal.h: portable kernel subset for metal (to be written) */
