require "json"
require_relative "geo/shapes"

module Geo
  PI2 = 6.28

  class Circle < Shape
    attr_reader :r

    def initialize(r)
      @r = r
    end

    def area
      Math::PI * square(r)
    end

    def self.unit
      new(1)
    end
  end
end

def square(x) = x * x
