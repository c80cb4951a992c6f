#include <stdio.h>
#include "shapes.h"
#define MAX_SIZE 100
#define SQUARE(x) ((x) * (x))
typedef struct Point { int x, y; } Point;
typedef int (*callback_t)(int);
enum Color { RED, GREEN };
union Value { int i; float f; };
static const int kLimit = 5;
int counter;
static char *dup_name(const char *s);
struct Point make_point(int x, int y) {
  struct Point p = {x, y};
  printf("%d\n", SQUARE(x));
  return p;
}
