#define A 4
#ifndef TILE_N
#define TILE_N 32
#endif
constant constexpr uint B = 0x10u;
static constexpr int C{7};
__constant const uint D = 5; /* const int E = 3; */
// #define F 9
const int G = H;
