use std::collections::HashMap;
use crate::geometry::{Point, shapes::Circle};
use super::util::*;
mod inner;
pub mod api { pub fn ping() {} }
pub const MAX: usize = 10;
static COUNTER: u32 = 0;
pub struct Canvas<T> { items: Vec<T> }
pub enum Shape { Circle(f64), Square { side: f64 } }
pub trait Drawable { fn draw(&self, c: &mut Canvas<Self>); fn name() -> String { String::new() } }
type Map = HashMap<String, Point>;
macro_rules! square { ($x:expr) => { $x * $x }; }
impl<T> Canvas<T> {
    pub fn new() -> Self { Canvas { items: Vec::new() } }
    fn add(&mut self, item: T) { self.items.push(item); }
}
impl Drawable for Circle {
    fn draw(&self, c: &mut Canvas<Self>) { let a = area(self.r); println!("{}", square!(a)); }
}
fn area(r: f64) -> f64 { std::f64::consts::PI * r * r }
