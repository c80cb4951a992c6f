import { Circle, type Shape } from "./shapes";
import Default from '../lib';
export interface Drawable<T> extends Base { draw(ctx: Context): void; size: number; }
export type Id = string | number;
enum Color { Red, Green }
export abstract class Canvas implements Drawable<Shape> {
  private items: Shape[] = [];
  constructor(private readonly ctx: Context) {}
  abstract clear(): void;
  add(item: Shape): Canvas { this.items.push(item); return this; }
}
namespace Util { export function id<T>(x: T): T { return x; } }
declare function external(a: number): string;
export const render = (c: Canvas): void => { c.add(new Circle(1)); };
function area(s: Shape): number { return s.area(); }
const MAX_ITEMS: number = 5;
