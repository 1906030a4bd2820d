// The compiled parts of Boost.Asio and Boost.Beast, built once here instead of in every file
// that includes them (BOOST_ASIO_SEPARATE_COMPILATION and BOOST_BEAST_SEPARATE_COMPILATION are
// defined for the whole project in the top-level CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
