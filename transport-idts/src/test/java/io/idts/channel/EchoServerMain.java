package io.idts.channel;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.Platform;
import io.idts.linux.FileDescriptors;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * A child JVM's main: an IDTS echo server. {@code EchoServerMain <address> [descriptor headroom]} binds the address (as
 * {@link IdtsAddress#parse} reads it), if a headroom is given lowers the process's descriptor limit ({@code
 * RLIMIT_NOFILE}) to the descriptors open then plus that headroom, prints {@code READY <pid>}, echoes every byte of
 * every connection back, and stops cleanly when its stdin closes (see {@link ChildJvm}). It stops reading from a
 * connection while that connection cannot take more writes, so a client that does not read cannot make it buffer
 * without bound.
 */
public final class EchoServerMain {

    private static final int RLIMIT_NOFILE = 7;

    private EchoServerMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1 && args.length != 2) {
            System.err.println("usage: EchoServerMain <address> [descriptor headroom]");
            System.exit(2);
        }
        LeakRecorder recorder = ChildMains.installLeakRecorder();
        IdtsAddress address = IdtsAddress.parse(args[0]);
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        Channel server = new ServerBootstrap()
                .group(group)
                .channel(IdtsServerChannel.class)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(512 * 1024, 1024 * 1024))
                .childHandler(new EchoHandler())
                .bind(address).sync().channel();
        if (args.length == 2) {
            limitDescriptors(FileDescriptors.openCount() + Integer.parseInt(args[1]));
        }
        System.out.println("READY " + ProcessHandle.current().pid());
        ChildMains.runUntilStdinClosed(recorder, server, group);
    }

    /** {@code setrlimit(RLIMIT_NOFILE, {limit, limit})}: accept4 fails with EMFILE once that many are open. */
    private static void limitDescriptors(long limit) {
        // Loading a class from a directory of the class path, and the first log line (time zone data), open files: not
        // possible once the limit is reached, and the error would end the event loop's thread. Both happen now.
        Logger.getLogger(EchoServerMain.class.getName()).info("limiting the descriptors to " + limit);
        loadIdtsClasses();
        try (Memory rlimit = new Memory(2 * Long.BYTES)) {
            rlimit.setLong(0, limit);
            rlimit.setLong(Long.BYTES, limit);
            if (Function.getFunction(Platform.C_LIBRARY_NAME, "setrlimit").invokeInt(
                    new Object[] { RLIMIT_NOFILE, rlimit }) != 0) {
                throw new IllegalStateException("setrlimit(RLIMIT_NOFILE, " + limit + ") failed");
            }
        }
    }

    /** Loads (without initializing) every IDTS class found in a directory of the class path. */
    private static void loadIdtsClasses() {
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path root = Paths.get(entry);
            if (!Files.isDirectory(root.resolve("io/idts"))) {
                continue;
            }
            try (Stream<Path> files = Files.walk(root.resolve("io/idts"))) {
                for (Path file : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
                    String name = root.relativize(file).toString().replace(File.separatorChar, '.');
                    Class.forName(name.substring(0, name.length() - ".class".length()), false,
                            EchoServerMain.class.getClassLoader());
                }
            } catch (IOException | ClassNotFoundException e) {
                throw new IllegalStateException("could not load the classes of " + root, e);
            }
        }
    }

    /** Writes back what it reads; reads only while the channel is writable. */
    @ChannelHandler.Sharable
    static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
            if (!ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            System.err.println("echo connection " + ctx.channel() + " failed: " + cause);
            ctx.close();
        }
    }
}
