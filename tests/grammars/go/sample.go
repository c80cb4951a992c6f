package shapes

import (
	"fmt"
	m "math"
	"example.com/proj/internal/geom"
)

const Pi = 3.14
const (
	A = iota
	B
)
var registry = map[string]Shape{}

type Shape interface {
	Area() float64
}

type Circle struct {
	R float64
}

type ID = string

func NewCircle(r float64) *Circle { return &Circle{R: r} }

func (c *Circle) Area() float64 {
	fmt.Println(m.Sqrt(c.R))
	return geom.Square(c.R) * Pi
}

func (Circle) String() string { return "circle" }
