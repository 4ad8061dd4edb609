/* prelude.cuda.h: portable kernel subset for cuda (to be written) */
