local json = require("json")
local shapes = require "geo.shapes"

local M = {}
MAX = 10

function M.area(c)
  return math.pi * square(c.r)
end

function M:scale(k)
  return self.new(k)
end

local function square(x)
  return x * x
end

Circle = {}
function Circle.new(r) return setmetatable({r = r}, Circle) end

return M
