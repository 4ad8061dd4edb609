/* prelude.opencl.h: portable kernel subset for opencl (to be written) */
