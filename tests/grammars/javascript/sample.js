import React, { useState, useEffect as ue } from 'react';
import * as path from "./util/path.js";
const fs = require('fs');
export const MAX = 10;
let counter = 0;
export default class Widget extends Component {
  constructor(props) { super(props); }
  render() { return helper(this.props); }
  static create() { return new Widget({}); }
  get size() { return 1; }
}
function helper(x) { return x.map(y => y + 1); }
const arrow = (a, b) => a + b;
const fexpr = function named() {};
module.exports.thing = function () { obj.method(); };
const api = { fetchAll() {}, load: async () => {} };
export function* gen() {}
